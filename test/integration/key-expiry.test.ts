import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import * as openpgp from "openpgp";
import { captureBody } from "../../infra/google/client.ts";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { seal } from "../../shared/security/envelope.ts";
import { generateKeyPair, loadKeyring } from "../../shared/security/keyring.ts";
import { PIAID, postRaw, requestId, until } from "../support/google.ts";
import { keyMadeAt } from "../support/keys.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

/**
 * A Google key and one of ours expire seconds into a running stack (loaded once, never re-read):
 * captures before and after succeed, GnuPG opens every answer, a replay after the expiry gets the
 * original answer, and while no answer could be sealed no money moves.
 */
const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), "gpg-expiry-"));
const gpg = (...args: string[]) =>
  run("gpg", ["--homedir", home, "--batch", "--no-tty", "--trust-model", "always", ...args], {
    encoding: "utf8",
  });
after(() => run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]).catch(() => {}));

// A and G1 were made an hour ago and expire EXPIRES_IN_MS from now; B and G2 last a year.
const EXPIRES_IN_MS = 15_000;
const expiresAt = Date.now() + EXPIRES_IN_MS;
const madeAt = new Date(Date.now() - 3600_000);
const shortLived = (name: string) =>
  keyMadeAt(name, madeAt, Math.round((expiresAt - madeAt.getTime()) / 1000));
const [A, G1, B, G2] = await Promise.all([
  shortLived("ours-A"),
  shortLived("google-1"),
  generateKeyPair("ours-B", { rsaBits: 2048 }),
  generateKeyPair("google-2", { rsaBits: 2048 }),
]);

const dirWith = (own: string[], google: string[]) => {
  const dir = mkdtempSync(join(tmpdir(), "gsp-expiry-keys-"));
  writeFileSync(join(dir, KEY_FILES.integratorPrivate), own.join("\n"));
  writeFileSync(join(dir, KEY_FILES.googlePublic), google.join("\n"));
  return dir;
};
const stack = await startTestStack(import.meta.filename, {
  keysDir: dirWith([A.privateKey, B!.privateKey], [G1.publicKey, G2!.publicKey]),
  sweepIntervalMs: 0,
});
// A second deployment that trusts only G1: near its expiry it can verify Google but not answer it.
const onlyG1 = await startTestStack(import.meta.filename, {
  keysDir: dirWith([B!.privateKey], [G1.publicKey]),
  sweepIntervalMs: 0,
});

// GnuPG plays Google: it holds G1 and G2, and knows our A and B.
for (const [i, armored] of [G1.privateKey, G2!.privateKey, A.publicKey, B!.publicKey].entries()) {
  const file = join(home, `key-${i}.asc`);
  writeFileSync(file, armored);
  await gpg("--import", file);
}
const fingerprintOf = async (armoredKey: string) =>
  (await openpgp.readKey({ armoredKey })).getFingerprint().toUpperCase();
const subkeyIdOf = async (armoredKey: string) =>
  (await openpgp.readKey({ armoredKey })).getSubkeys()[0]!.getKeyID().toHex().toUpperCase();
const [fprA, fprB, encG1, encG2] = await Promise.all([
  fingerprintOf(A.publicKey),
  fingerprintOf(B!.publicKey),
  subkeyIdOf(G1.publicKey),
  subkeyIdOf(G2!.publicKey),
]);

/** Posts as Google, sealing with `googleKey` to `ourKeys` as they were at `at` (default now). */
async function send(url: string, body: unknown, googleKey: string, ourKeys: string[], at = new Date()) {
  const google = await loadKeyring(
    { own: googleKey, peer: ourKeys.join("\n") },
    { own: "google", peer: "us" },
    at,
  );
  return postRaw(url, "/v1/capture", await seal(JSON.stringify(body), google, at), {
    "content-type": "application/octet-stream; charset=utf-8",
  });
}

/** GnuPG opens our answer: the JSON, who signed it (fingerprints) and to whom it was encrypted (key IDs). */
async function gpgOpens(text: string) {
  const dir = mkdtempSync(join(tmpdir(), "gsp-expiry-answer-"));
  writeFileSync(join(dir, "answer.gpg"), Buffer.from(text, "base64url"));
  const { stdout } = await gpg(
    "--status-fd",
    "1",
    "--output",
    join(dir, "answer.json"),
    "--decrypt",
    join(dir, "answer.gpg"),
  );
  const lines = stdout.split("\n");
  const field = (prefix: string, i: number) =>
    lines.filter((l) => l.startsWith(`[GNUPG:] ${prefix} `)).map((l) => l.split(" ")[i]!);
  assert.deepEqual(field("BADSIG", 2).concat(field("EXPKEYSIG", 2)), [], stdout);
  return {
    body: JSON.parse(readFileSync(join(dir, "answer.json"), "utf8")),
    signedBy: field("VALIDSIG", 2).sort(),
    encryptedTo: field("ENC_TO", 2).sort(),
  };
}

const body = (id: string) =>
  captureBody({
    piaid: PIAID,
    amount: "2000000",
    currency: "INR",
    googlePaymentToken: "gpt-demo-success",
    requestId: id,
  });

test("keys that expire in a running process stop being used; no answer breaks, no money moves unanswered", async () => {
  const start = await balance(stack, "acct-demo-main");
  const first = requestId("expiry");

  // Before: Google signs with G1 and encrypts to A and B; we sign with A and B and encrypt to G1 and G2.
  const before = await send(stack.url, body(first), G1.privateKey, [A.publicKey, B!.publicKey]);
  assert.equal(before.status, 200);
  const opened = await gpgOpens(before.text);
  assert.equal(opened.body.result, "SUCCESS");
  assert.deepEqual(opened.signedBy, [fprA, fprB].sort());
  assert.deepEqual(opened.encryptedTo, [encG1, encG2].sort());

  // Within one invocation's time of G1's end, a deployment trusting only G1 could not seal its answer: 503, nothing read.
  await until(
    "G1 is within one capture timeout of its expiry",
    () => Date.now() > expiresAt - 5_000,
    EXPIRES_IN_MS,
  );
  assert.ok(Date.now() < expiresAt, "G1 still valid");
  const untouched = await balance(onlyG1, "acct-demo-main");
  onlyG1.dynamodbCommands.length = 0;
  const unsealable = await send(onlyG1.url, body(requestId("expiry")), G1.privateKey, [B!.publicKey]);
  assert.equal(unsealable.status, 503);
  assert.equal(unsealable.contentType, "application/json; charset=utf-8", "bare");
  assert.deepEqual(onlyG1.dynamodbCommands, [], "the ledger was not even read");
  assert.equal(await balance(onlyG1, "acct-demo-main"), untouched);

  await until("A and G1 have expired", () => Date.now() > expiresAt + 500, 10_000);

  // After: a new capture, signed with G2, encrypted to B; our answer uses only the keys still valid.
  const afterwards = await send(stack.url, body(requestId("expiry")), G2!.privateKey, [B!.publicKey]);
  assert.equal(afterwards.status, 200);
  const late = await gpgOpens(afterwards.text);
  assert.equal(late.body.result, "SUCCESS");
  assert.deepEqual(late.signedBy, [fprB]);
  assert.deepEqual(late.encryptedTo, [encG2]);

  // Google retries the first capture after the expiry: the original answer, sealed with today's keys.
  const replay = await send(stack.url, body(first), G2!.privateKey, [B!.publicKey]);
  assert.equal(replay.status, 200);
  const replayed = await gpgOpens(replay.text);
  assert.equal(replayed.body.paymentIntegratorTransactionId, opened.body.paymentIntegratorTransactionId);
  assert.equal(replayed.body.result, "SUCCESS");
  assert.deepEqual(replayed.signedBy, [fprB]);
  assert.equal(start - (await balance(stack, "acct-demo-main")), 4_000_000n, "two captures, one debit each");

  // A request signed by G1 while it was valid (a date the sender chooses) is refused now.
  const whileValid = new Date(expiresAt - 10_000);
  const stale = await send(onlyG1.url, body(requestId("expiry")), G1.privateKey, [B!.publicKey], whileValid);
  assert.equal(stale.status, 401);
  assert.equal(JSON.parse(stale.text).errorResponseCode, "INVALID_PAYLOAD_SIGNATURE");
});
