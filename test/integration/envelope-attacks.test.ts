import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import * as openpgp from "openpgp";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { GOOGLE_MAX_BODY_BYTES } from "../../shared/http/limits.ts";
import { ENVELOPE_LIMITS } from "../../shared/security/envelope.ts";
import { capture, captureRequest, googleKeyring, postRaw, testKeysDir } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

/**
 * What anyone holding our public key can send before a signature is checked: compression bombs
 * made by GnuPG, nested compression, session-key floods and oversize bodies. Each is refused with a
 * bare 4xx, touches no ledger, and does not hold up Google's captures meanwhile.
 */
const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), "gpg-attacks-"));
const work = mkdtempSync(join(tmpdir(), "gsp-attacks-"));
const gpg = (...args: string[]) =>
  run("gpg", ["--homedir", home, "--batch", "--no-tty", "--trust-model", "always", ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
after(() => run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]).catch(() => {}));

const keysDir = await testKeysDir();
await gpg("--import", join(keysDir, KEY_FILES.integratorPublic));
const stack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const google = await googleKeyring();

/** GnuPG compresses `megabytes` of zeros with `algo` and encrypts them to the integrator, unsigned. */
async function gpgBomb(algo: "bzip2" | "zlib" | "zip", megabytes: number): Promise<string> {
  const input = join(work, `zeros-${megabytes}`);
  writeFileSync(input, Buffer.alloc(megabytes * 1024 * 1024));
  const output = join(work, `bomb-${algo}-${megabytes}.gpg`);
  await gpg(
    "-z",
    "9",
    "--compress-algo",
    algo,
    "--cipher-algo",
    "AES256",
    "--recipient",
    "gsp-integrator",
    "--output",
    output,
    "--encrypt",
    input,
  );
  return readFileSync(output).toString("base64url");
}

/** A compressed packet inside a compressed packet (openpgp writes it; no request needs it). */
async function nestedBomb(): Promise<string> {
  const literal = await openpgp.createMessage({ binary: Buffer.alloc(40 * 1024) });
  type Compressible = { compress(algo: number, config?: openpgp.Config): Compressible };
  const once = (literal as unknown as Compressible).compress(openpgp.enums.compression.zlib);
  const twice = once.compress(openpgp.enums.compression.zlib) as unknown as openpgp.Message<Uint8Array>;
  const binary = await openpgp.encrypt({ message: twice, encryptionKeys: google.peer, format: "binary" });
  return Buffer.from(binary).toString("base64url");
}

/** One real session-key packet to our key repeated `n` times in front of the data. */
async function sessionKeyFlood(n: number): Promise<string> {
  const binary = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: Buffer.from("{}") }),
    encryptionKeys: google.peer,
    format: "binary",
  });
  const message = await openpgp.readMessage({ binaryMessage: binary });
  const [pkesk, data] = [...message.packets];
  const flood = new openpgp.PacketList<openpgp.AnyPacket>();
  for (let i = 0; i < n; i++) flood.push(pkesk!);
  flood.push(data!);
  return Buffer.from(new openpgp.Message(flood).write() as Uint8Array).toString("base64url");
}

const postWire = (wire: string) =>
  postRaw(stack.url, "/v1/capture", wire, { "content-type": "application/octet-stream; charset=utf-8" });

const attacks: [string, () => Promise<string>, number, string | undefined][] = [
  [
    "bzip2 bomb (100 MB of zeros in well under 1 KB)",
    () => gpgBomb("bzip2", 100),
    400,
    "INVALID_PAYLOAD_ENCRYPTION",
  ],
  ["zlib bomb (40 MB under the body cap)", () => gpgBomb("zlib", 40), 400, "INVALID_PAYLOAD_ENCRYPTION"],
  ["zip bomb (40 MB under the body cap)", () => gpgBomb("zip", 40), 400, "INVALID_PAYLOAD_ENCRYPTION"],
  ["zlib bomb over the body cap (100 MB)", () => gpgBomb("zlib", 100), 413, undefined],
  ["nested compression", nestedBomb, 400, "INVALID_PAYLOAD_ENCRYPTION"],
  ["session-key flood up to the body cap", () => sessionKeyFlood(120), 400, "INVALID_PAYLOAD_ENCRYPTION"],
  [
    "session keys one over the cap",
    () => sessionKeyFlood(ENVELOPE_LIMITS.maxSessionKeyPackets + 1),
    400,
    "INVALID_PAYLOAD_ENCRYPTION",
  ],
  ["a body one byte over the cap", async () => "A".repeat(GOOGLE_MAX_BODY_BYTES + 1), 413, undefined],
];
const wires = new Map<string, string>();
for (const [name, build] of attacks) wires.set(name, await build());

describe("hostile envelopes are refused before any signature check, bare, with nothing read", () => {
  for (const [name, , status, code] of attacks) {
    test(`${name} → ${status}${code ? ` ${code}` : ""}`, async () => {
      const wire = wires.get(name)!;
      if (status !== 413) assert.ok(wire.length <= GOOGLE_MAX_BODY_BYTES, `${wire.length} bytes fit the cap`);
      stack.dynamodbCommands.length = 0;
      const reply = await postWire(wire);
      assert.equal(reply.status, status);
      assert.match(reply.contentType, /^application\/json/, "bare");
      const body = JSON.parse(reply.text);
      if (code) assert.equal(body.errorResponseCode, code);
      else assert.deepEqual(body, { message: "Request Entity Too Large" });
      assert.deepEqual(stack.dynamodbCommands, [], "the ledger was not even read");
    });
  }
});

test("a capture sent alongside bombs is not held up (ratio to the same capture without them)", async (t) => {
  const bombs = [
    "bzip2 bomb (100 MB of zeros in well under 1 KB)",
    "zlib bomb (40 MB under the body cap)",
    "session-key flood up to the body cap",
  ].map((name) => wires.get(name)!);
  const before = await balance(stack, "acct-demo-main");
  const timed = async () => {
    const started = performance.now();
    const reply = await capture(stack.url, captureRequest({ amount: "1000000" }));
    assert.equal(reply.body.result, "SUCCESS");
    return performance.now() - started;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const alone: number[] = [];
  const attacked: number[] = [];
  // Interleaved rounds, so a busy moment of the shared machine falls on both sides alike.
  for (let round = 0; round < 7; round++) {
    alone.push(await timed());
    const [took] = await Promise.all([timed(), ...bombs.map((wire) => postWire(wire))]);
    attacked.push(took);
  }
  const ratio = median(attacked) / median(alone);
  t.diagnostic(
    `alongside three bombs ${median(attacked).toFixed(1)} ms, alone ${median(alone).toFixed(1)} ms: ${ratio.toFixed(2)}×`,
  );
  // Before the limits one bzip2 bomb cost seconds of CPU (three held a capture ~10 s, a ratio in
  // the hundreds); now three cost a few ms each. 5× leaves room for a busy 2-core machine.
  assert.ok(
    ratio < 5,
    `capture with three bombs alongside: ${ratio.toFixed(2)}× the capture alone (${median(attacked).toFixed(1)} vs ${median(alone).toFixed(1)} ms)`,
  );
  assert.equal(before - (await balance(stack, "acct-demo-main")), 14n * 1_000_000n);
});
