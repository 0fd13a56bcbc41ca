import assert from "node:assert/strict";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { callIntegrator, type GoogleReply } from "../../infra/google/client.ts";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { generateKeyPair, type Keyring, loadKeyring } from "../../shared/security/keyring.ts";
import { captureRequest } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

const [A, B, G1, G2] = await Promise.all(
  ["ours-A", "ours-B", "google-1", "google-2"].map((n) => generateKeyPair(n, { rsaBits: 2048 })),
);
const dir = mkdtempSync(join(tmpdir(), "gsp-rotation-"));
/** Replaces a keyring file atomically, as an operator's deployment step would. */
const put = (file: string, ...armored: string[]) => {
  writeFileSync(join(dir, `${file}.tmp`), armored.join("\n"));
  renameSync(join(dir, `${file}.tmp`), join(dir, file));
};
put(KEY_FILES.integratorPrivate, A!.privateKey);
put(KEY_FILES.googlePublic, G1!.publicKey);

const stack = await startTestStack(import.meta.filename, { keysDir: dir, keyringTtlSeconds: 0.05 });
const googleView = (own: string, ...peer: string[]) =>
  loadKeyring({ own, peer: peer.join("\n") }, { own: "google", peer: "integrator" });

/** Sends until `done` holds for the answer (an operator's check that a key change is live), bounded. */
async function until(keyring: Keyring, done: (r: GoogleReply) => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    // An answer the probe cannot verify (signed only by a key it does not hold yet) means "not live yet".
    const probe = captureRequest({ googlePaymentToken: "gpt-demo-usd-only" });
    const reply = await callIntegrator(stack.url, "/v1/capture", probe, { keyring }).catch((e: Error) => e);
    if (!(reply instanceof Error) && done(reply)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `key change not live: last answer ${reply instanceof Error ? reply.message : reply.status}`,
      );
    }
    await delay(20); // poll interval of the check, not a readiness guess
  }
}

test("keys rotate on both sides while Google's requests flow: no request fails", async () => {
  let google = await googleView(G1!.privateKey, A!.publicKey);
  const before = await balance(stack, "acct-demo-main");
  const answers: number[] = [];
  let flowing = true;
  let progressed: (() => void) | undefined;
  /** Resolves once Google's traffic has had `n` more answers: every key state carries real traffic. */
  const trafficThrough = async (n = 3) => {
    const target = answers.length + n;
    while (answers.length < target) await new Promise<void>((r) => (progressed = r));
  };
  const traffic = (async () => {
    while (flowing) {
      const reply = await callIntegrator(stack.url, "/v1/capture", captureRequest({ amount: "1000000" }), {
        keyring: google,
      });
      answers.push(reply.status === 200 && reply.body.result === "SUCCESS" ? 200 : reply.status);
      progressed?.();
    }
  })();
  const ok = (r: GoogleReply) => r.status === 200;

  await trafficThrough();
  // Ours: add B, both work, Google learns B, remove A, Google forgets A.
  put(KEY_FILES.integratorPrivate, A!.privateKey, B!.privateKey);
  await trafficThrough();
  await until(await googleView(G1!.privateKey, B!.publicKey), ok);
  google = await googleView(G1!.privateKey, A!.publicKey, B!.publicKey);
  await trafficThrough();
  put(KEY_FILES.integratorPrivate, B!.privateKey);
  await trafficThrough();
  await until(
    await googleView(G1!.privateKey, A!.publicKey),
    (r) => r.body.errorResponseCode === "INVALID_PAYLOAD_ENCRYPTION",
  );
  google = await googleView(G1!.privateKey, B!.publicKey);
  await trafficThrough();

  // Google's: we trust G2 as well, Google signs with G2, we stop trusting G1.
  put(KEY_FILES.googlePublic, G1!.publicKey, G2!.publicKey);
  await trafficThrough();
  await until(await googleView(G2!.privateKey, B!.publicKey), ok);
  google = await googleView(G2!.privateKey, B!.publicKey);
  await trafficThrough();
  put(KEY_FILES.googlePublic, G2!.publicKey);
  await trafficThrough();
  await until(
    await googleView(G1!.privateKey, B!.publicKey),
    (r) => r.body.errorResponseCode === "INVALID_PAYLOAD_SIGNATURE",
  );

  flowing = false;
  await traffic;
  assert.ok(
    answers.length >= 24,
    `${answers.length} requests flowed: 3 in each of the 8 key states at least`,
  );
  assert.deepEqual(
    answers.filter((s) => s !== 200),
    [],
    "every request during the rotation succeeded",
  );
  assert.equal(before - (await balance(stack, "acct-demo-main")), 1_000_000n * BigInt(answers.length));
});
