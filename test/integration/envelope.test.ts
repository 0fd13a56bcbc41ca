import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as openpgp from "openpgp";
import { KEY_FILES } from "../../infra/local/keys.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import { generateKeyPair, loadKeyring } from "../../shared/security/keyring.ts";
import { captureRequest, googleKeyring, PIAID, postRaw, testKeysDir } from "../support/google.ts";
import { balance, captureRecords } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

// No periodic sweeper: its index queries would land among the DynamoDB commands this file counts.
const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const keysDir = await testKeysDir();
const labels = { own: "own", peer: "peer" };
const google = await googleKeyring();
const integratorPublic = await readFile(join(keysDir, KEY_FILES.integratorPublic), "utf8");
const stranger = await generateKeyPair("stranger", { rsaBits: 2048 });
const strangerSigning = await loadKeyring({ own: stranger.privateKey, peer: integratorPublic }, labels);
const googleToStranger = await loadKeyring(
  { own: await readFile(join(keysDir, KEY_FILES.googleStandInPrivate), "utf8"), peer: stranger.publicKey },
  labels,
);

const postWire = (wire: string) =>
  postRaw(stack.url, "/v1/capture", wire, { "content-type": "application/octet-stream; charset=utf-8" });

const body = () => JSON.stringify(captureRequest({ amount: "1000000" }));
const flip = (wire: string, at: number) => {
  const bytes = Buffer.from(wire, "base64url");
  const i = Math.floor(bytes.length * at);
  bytes[i] = (bytes[i] ?? 0) ^ 0x01;
  return bytes.toString("base64url");
};

describe("envelope over HTTP: every failure is refused before the ledger is touched", () => {
  const unsigned = async () => {
    const message = await openpgp.createMessage({ text: body() });
    const binary = await openpgp.encrypt({ message, encryptionKeys: google.peer, format: "binary" });
    return Buffer.from(binary).toString("base64url");
  };
  const cases: [string, () => Promise<string>, number, string][] = [
    ["plain JSON instead of an envelope", async () => body(), 400, "INVALID_PAYLOAD_ENCRYPTION"],
    [
      "base64url of something that is not OpenPGP",
      async () => Buffer.from(body()).toString("base64url"),
      400,
      "INVALID_PAYLOAD_ENCRYPTION",
    ],
    [
      "encrypted to a key we do not hold",
      () => seal(body(), googleToStranger),
      400,
      "INVALID_PAYLOAD_ENCRYPTION",
    ],
    ["unsigned", unsigned, 401, "INVALID_PAYLOAD_SIGNATURE"],
    [
      "signed by a key we do not trust",
      () => seal(body(), strangerSigning),
      401,
      "INVALID_PAYLOAD_SIGNATURE",
    ],
    [
      "tampered in transit",
      async () => flip(await seal(body(), google), 0.85),
      401,
      "INVALID_PAYLOAD_SIGNATURE",
    ],
  ];
  for (const [name, wire, status, code] of cases) {
    test(`${name} → ${status} ${code}, bare, nothing read or written`, async () => {
      const before = await balance(stack, "acct-demo-main");
      const records = (await captureRecords(stack.dynamodb, stack.config.tables.captures)).length;
      stack.dynamodbCommands.length = 0;
      const reply = await postWire(await wire());
      assert.equal(reply.status, status);
      assert.equal(
        reply.contentType,
        "application/json; charset=utf-8",
        "an unverifiable request gets a bare answer",
      );
      const error = JSON.parse(reply.text);
      assert.equal(error.errorResponseCode, code);
      assert.deepEqual(Object.keys(error).sort(), [
        "errorDescription",
        "errorResponseCode",
        "paymentIntegratorErrorIdentifier",
        "responseHeader",
      ]);
      assert.ok(!reply.text.includes(PIAID), "the answer names no PIAID");
      assert.ok(!/[0-9a-f]{16}/i.test(error.errorDescription), "the answer names no key");
      assert.deepEqual(stack.dynamodbCommands, [], "the ledger was not even read");
      assert.equal(await balance(stack, "acct-demo-main"), before);
      assert.equal((await captureRecords(stack.dynamodb, stack.config.tables.captures)).length, records);
    });
  }
});

describe("envelope over HTTP: what works", () => {
  test("padded and unpadded base64url both capture; the answer is sealed, signed by us, for Google", async () => {
    for (const pad of [false, true]) {
      let wire = await seal(body(), google);
      if (pad) while (wire.length % 4 !== 0) wire += "=";
      const reply = await postWire(wire);
      assert.equal(reply.status, 200);
      assert.equal(reply.contentType, "application/octet-stream; charset=utf-8");
      assert.match(reply.text, /^[A-Za-z0-9_-]+$/);
      const answer = JSON.parse(await open(reply.text, google));
      assert.equal(answer.result, "SUCCESS");
    }
  });

  test("a verified request that fails validation gets its error sealed", async () => {
    const reply = await postWire(await seal(JSON.stringify(captureRequest({ amount: "-1" })), google));
    assert.equal(reply.status, 400);
    assert.equal(reply.contentType, "application/octet-stream; charset=utf-8");
    assert.equal(JSON.parse(await open(reply.text, google)).errorResponseCode, "INVALID_FIELD_VALUE");
  });
});

describe("envelope over HTTP: JSON is parsed strictly, never repaired", () => {
  /** Google's keys seal these exact bytes (the envelope itself is valid). */
  const sealBytes = async (bytes: Buffer) => {
    const message = await openpgp.createMessage({ binary: bytes });
    const signed = await openpgp.sign({ message, signingKeys: google.own, format: "object" });
    const binary = await openpgp.encrypt({ message: signed, encryptionKeys: google.peer, format: "binary" });
    return Buffer.from(binary).toString("base64url");
  };
  const valid = body();
  const cases: [string, Buffer][] = [
    ["a comment", Buffer.from(`/* probe */${valid}`)],
    ["a trailing comma", Buffer.from(`${valid.slice(0, -1)},}`)],
    ["NaN", Buffer.from(`${valid.slice(0, -1)},"x":NaN}`)],
    ["single quotes", Buffer.from(`${valid.slice(0, -1)},'x':'y'}`)],
    [
      "invalid UTF-8",
      Buffer.concat([
        Buffer.from(`${valid.slice(0, -1)},"x":"`),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}'),
      ]),
    ],
  ];
  for (const [name, bytes] of cases) {
    test(`${name} → 400 INVALID_DECRYPTED_REQUEST, sealed, nothing written`, async () => {
      const before = await balance(stack, "acct-demo-main");
      stack.dynamodbCommands.length = 0;
      const reply = await postWire(await sealBytes(bytes));
      assert.equal(reply.status, 400);
      assert.equal(reply.contentType, "application/octet-stream; charset=utf-8");
      assert.equal(JSON.parse(await open(reply.text, google)).errorResponseCode, "INVALID_DECRYPTED_REQUEST");
      assert.deepEqual(stack.dynamodbCommands, []);
      assert.equal(await balance(stack, "acct-demo-main"), before);
    });
  }
});
