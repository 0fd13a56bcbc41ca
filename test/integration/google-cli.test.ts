/**
 * `npm run google`, the README's way to talk to the service as Google: both methods, a replay, the
 * answer opened and verified, exit codes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { requestId, testKeysDir } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const stack = await startTestStack(import.meta.filename);
const keys = await testKeysDir();

/** Runs the CLI against this file's stack; resolves with exit code and output whatever the code. */
async function google(...args: string[]) {
  try {
    const { stdout } = await run(
      process.execPath,
      ["infra/google/cli.ts", ...args, "--url", stack.url, "--keys", keys],
      { cwd: ROOT },
    );
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout + e.stderr };
  }
}

/** The JSON the CLI prints after its status line. */
const answer = (stdout: string) =>
  JSON.parse(stdout.slice(stdout.indexOf("\n") + 1)) as Record<string, unknown>;

test("capture: signed, encrypted, verified; SUCCESS debits once, and the same requestId replays", async () => {
  const before = await balance(stack, "acct-demo-main");
  const id = requestId("cli");
  const first = await google("capture", "--request-id", id, "--amount", "5000000");
  assert.equal(first.code, 0);
  assert.match(first.stdout, /^HTTP 200 \(signed and encrypted, signature verified\)\n/);
  const body = answer(first.stdout);
  assert.equal(body.result, "SUCCESS");
  assert.equal(before - (await balance(stack, "acct-demo-main")), 5_000_000n);

  const again = await google("capture", "--request-id", id, "--amount", "5000000");
  assert.equal(again.code, 0);
  assert.equal(answer(again.stdout).paymentIntegratorTransactionId, body.paymentIntegratorTransactionId);
  assert.equal(before - (await balance(stack, "acct-demo-main")), 5_000_000n, "no second debit");
});

test("capture: a decline prints the answer and exits 0; a documented error exits 1", async () => {
  const low = await google("capture", "--token", "gpt-demo-low-balance");
  assert.equal(low.code, 0);
  assert.equal(answer(low.stdout).result, "INSUFFICIENT_FUNDS");
  const unknownPiaid = await google("capture", "--piaid", "NoSuchPiaid");
  assert.equal(unknownPiaid.code, 1);
  assert.match(unknownPiaid.stdout, /^HTTP 404 \(signed and encrypted, signature verified\)\n/);
  assert.equal(answer(unknownPiaid.stdout).errorResponseCode, "INVALID_IDENTIFIER");
});

test("asynchronousCapture: UPI by VPA (default) or a token is ACKNOWLEDGED and moves no money", async () => {
  const before = await balance(stack, "acct-demo-main");
  const upi = await google("asynchronousCapture", "--amount", "1000000");
  assert.equal(upi.code, 0);
  assert.equal(answer(upi.stdout).result, "ACKNOWLEDGED");
  assert.match(String(answer(upi.stdout).paymentIntegratorTransactionId), /\S/);
  const token = await google("asynchronousCapture", "--token", "gpt-demo-success");
  assert.equal(answer(token.stdout).result, "ACKNOWLEDGED");
  const closed = await google("asynchronousCapture", "--vpa", "closed@demobank");
  assert.equal(answer(closed.stdout).result, "ACCOUNT_CLOSED");
  assert.equal(await balance(stack, "acct-demo-main"), before);
});

test("--help exits 0 with the usage; an unknown method exits 2 with it", async () => {
  const help = await google("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: npm run google -- capture/);
  assert.match(help.stdout, /npm run google -- asynchronousCapture/);
  const unknown = await google("refund");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stdout, /^usage: npm run google -- capture/);
});
