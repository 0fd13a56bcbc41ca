import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import * as openpgp from "openpgp";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { captureRequest, postRaw, testKeysDir } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

/**
 * Proof that we interoperate with an OpenPGP implementation other than our own library: GnuPG
 * makes the Google key, signs and encrypts the request, and decrypts and verifies our answer.
 */
const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), "gpg-"));
const gpg = (...args: string[]) =>
  run("gpg", ["--homedir", home, "--batch", "--no-tty", ...args], { encoding: "utf8" });
after(() => run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]).catch(() => {}));

async function fingerprint(uid: string): Promise<string> {
  const { stdout } = await gpg("--with-colons", "--list-keys", uid);
  return stdout
    .split("\n")
    .find((l) => l.startsWith("fpr:"))!
    .split(":")[9]!;
}

// GnuPG plays Google: its own RSA key with a separate encryption subkey.
await gpg(
  "--pinentry-mode",
  "loopback",
  "--passphrase",
  "",
  "--quick-gen-key",
  "Google interop <gsp@google.test>",
  "rsa2048",
  "sign,cert",
  "1y",
);
const googleFpr = await fingerprint("gsp@google.test");
await gpg(
  "--pinentry-mode",
  "loopback",
  "--passphrase",
  "",
  "--quick-add-key",
  googleFpr,
  "rsa2048",
  "encr",
  "1y",
);
const { stdout: googlePublic } = await gpg("--armor", "--export", googleFpr);

// The integrator trusts that key (and only it) as Google's; GnuPG knows the integrator's public key.
const sharedKeys = await testKeysDir();
const keysDir = mkdtempSync(join(tmpdir(), "gsp-interop-keys-"));
mkdirSync(keysDir, { recursive: true });
for (const f of [KEY_FILES.integratorPrivate, KEY_FILES.integratorPublic])
  copyFileSync(join(sharedKeys, f), join(keysDir, f));
writeFileSync(join(keysDir, KEY_FILES.googlePublic), googlePublic);
await gpg("--import", join(keysDir, KEY_FILES.integratorPublic));
const integratorFpr = await fingerprint("gsp-integrator");

const stack = await startTestStack(import.meta.filename, { keysDir });

/**
 * GnuPG signs with `digest` and encrypts with `cipher` a capture for the integrator (forced, as a sender
 * that ignores our preferences would), and posts it to `url`.
 */
async function gpgRequest(url: string, body: Record<string, unknown>, cipher = "AES256", digest = "SHA384") {
  const work = mkdtempSync(join(tmpdir(), "gsp-interop-"));
  writeFileSync(join(work, "request.json"), JSON.stringify(body));
  await gpg(
    "--trust-model",
    "always",
    "--sign",
    "--digest-algo",
    digest,
    "--encrypt",
    "--cipher-algo",
    cipher,
    "--recipient",
    integratorFpr,
    "--local-user",
    googleFpr,
    "--output",
    join(work, "request.gpg"),
    join(work, "request.json"),
  );
  const wire = readFileSync(join(work, "request.gpg")).toString("base64url");
  const reply = await postRaw(url, "/v1/capture", wire, {
    "content-type": "application/octet-stream; charset=utf-8",
  });
  return { ...reply, work };
}

/** GnuPG decrypts and verifies our answer; its status lines say which hash, cipher and signer it saw. */
async function gpgOpen(reply: { text: string; work: string }) {
  writeFileSync(join(reply.work, "response.gpg"), Buffer.from(reply.text, "base64url"));
  const { stdout: status } = await gpg(
    "--trust-model",
    "always",
    "--status-fd",
    "1",
    "--output",
    join(reply.work, "response.json"),
    "--decrypt",
    join(reply.work, "response.gpg"),
  );
  const line = (prefix: string) =>
    status
      .split("\n")
      .find((l) => l.startsWith(`[GNUPG:] ${prefix} `))
      ?.split(" ");
  return { status, line, answer: JSON.parse(readFileSync(join(reply.work, "response.json"), "utf8")) };
}

test("a request made by gpg (SHA-384, AES-256) captures; gpg decrypts and verifies our answer", async () => {
  const before = await balance(stack, "acct-demo-main");
  const reply = await gpgRequest(stack.url, captureRequest({ amount: "4000000" }));
  assert.equal(reply.status, 200);
  assert.equal(reply.contentType, "application/octet-stream; charset=utf-8");
  const { status, line, answer } = await gpgOpen(reply);
  assert.equal(answer.result, "SUCCESS");
  assert.equal(before - (await balance(stack, "acct-demo-main")), 4_000_000n);
  // VALIDSIG <fpr> <date> <ts> <expire> <version> <reserved> <pubkey-algo> <hash-algo> <class> <primary-fpr>
  const validsig = line("VALIDSIG");
  assert.ok(validsig, `gpg verified our signature:\n${status}`);
  assert.equal(validsig[9], "9", "signed with SHA-384 (OpenPGP hash algorithm 9)");
  assert.equal(validsig[11], integratorFpr, "signed by the integrator's key");
  // DECRYPTION_INFO <mdc-method> <sym-algo> [<aead-algo>]
  assert.equal(line("DECRYPTION_INFO")?.[3], "9", "encrypted with AES-256 (OpenPGP symmetric algorithm 9)");
  assert.ok(status.includes("[GNUPG:] DECRYPTION_OKAY"));
});

test("inbound matrix: only AES-256 with SHA-384 or SHA-512 is accepted; weaker ciphers 400, weaker hashes 401", async () => {
  const cases: [string, string, number, string | undefined][] = [
    ["AES256", "SHA384", 200, undefined],
    ["AES256", "SHA512", 200, undefined],
    ["AES256", "SHA256", 401, "INVALID_PAYLOAD_SIGNATURE"],
    ["AES256", "SHA224", 401, "INVALID_PAYLOAD_SIGNATURE"],
    ["AES256", "SHA1", 401, "INVALID_PAYLOAD_SIGNATURE"],
    ["AES", "SHA384", 400, "INVALID_PAYLOAD_ENCRYPTION"],
    ["AES192", "SHA384", 400, "INVALID_PAYLOAD_ENCRYPTION"],
    ["3DES", "SHA384", 400, "INVALID_PAYLOAD_ENCRYPTION"],
    ["CAST5", "SHA384", 400, "INVALID_PAYLOAD_ENCRYPTION"],
  ];
  const seen = [];
  for (const [cipher, digest] of cases) {
    const reply = await gpgRequest(stack.url, captureRequest({ amount: "1000000" }), cipher, digest);
    seen.push([
      cipher,
      digest,
      reply.status,
      reply.status === 200 ? undefined : JSON.parse(reply.text).errorResponseCode,
    ]);
  }
  assert.deepEqual(seen, cases);
});

test("outbound: to a Google key that prefers AES-128 and SHA-256, gpg still sees AES-256 and SHA-384", async () => {
  // A second Google key, made by gpg stating AES-128 and SHA-256 as its first preferences.
  const prefs = [
    "--default-preference-list",
    "AES SHA256 ZLIB",
    "--pinentry-mode",
    "loopback",
    "--passphrase",
    "",
  ];
  await gpg(
    ...prefs,
    "--quick-gen-key",
    "Google weak prefs <weak@google.test>",
    "rsa2048",
    "sign,cert",
    "1y",
  );
  const weakFpr = await fingerprint("weak@google.test");
  await gpg(...prefs, "--quick-add-key", weakFpr, "rsa2048", "encr", "1y");
  const { stdout: weakPublic } = await gpg("--armor", "--export", weakFpr);
  const { selfCertification: selfSignature } = await (
    await openpgp.readKey({ armoredKey: weakPublic })
  ).getPrimaryUser();
  assert.equal(selfSignature.preferredSymmetricAlgorithms?.[0], openpgp.enums.symmetric.aes128);
  assert.equal(selfSignature.preferredHashAlgorithms?.[0], openpgp.enums.hash.sha256);
  const weakDir = mkdtempSync(join(tmpdir(), "gsp-interop-weak-"));
  for (const f of [KEY_FILES.integratorPrivate, KEY_FILES.integratorPublic])
    copyFileSync(join(sharedKeys, f), join(weakDir, f));
  // Both Google keys are trusted: the answer goes to both, so openpgp would pick what both accept (AES-128, SHA-256).
  writeFileSync(join(weakDir, KEY_FILES.googlePublic), `${googlePublic}\n${weakPublic}`);
  const weakStack = await startTestStack(import.meta.filename, { keysDir: weakDir });
  const reply = await gpgRequest(weakStack.url, captureRequest({ amount: "1000000" }));
  assert.equal(reply.status, 200);
  const { status, line } = await gpgOpen(reply);
  assert.equal(line("VALIDSIG")?.[9], "9", `SHA-384 whatever Google's key prefers:\n${status}`);
  assert.equal(line("DECRYPTION_INFO")?.[3], "9", "AES-256 whatever Google's key prefers");
});
