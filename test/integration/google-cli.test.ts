/**
 * `npm run google`, the README's way to talk to the service as Google: both methods, a replay, the
 * answer opened and verified, exit codes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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
  return googleWith([...args, "--url", stack.url, "--keys", keys]);
}
async function googleWith(args: string[]) {
  try {
    const { GSP_URL: _ignored, ...env } = process.env;
    const { stdout } = await run(process.execPath, ["infra/google/cli.ts", ...args], { cwd: ROOT, env });
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
  assert.match(help.stdout, /npm run google -- refund --capture-request-id/);
  const unknown = await google("chargeback");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stdout, /^usage: npm run google -- capture/);
});

test("without --url and --keys it uses the running stack's, from its stack file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gsp-google-cli-"));
  const stackFile = join(dir, "stack.json");
  writeFileSync(stackFile, JSON.stringify({ url: stack.url, keysDir: keys, messageCodec: "openpgp" }));
  const r = await googleWith(["capture", "--token", "gpt-demo-low-balance", "--stack-file", stackFile]);
  assert.equal(r.code, 0, r.stdout);
  assert.equal(answer(r.stdout).result, "INSUFFICIENT_FUNDS");
});

test("a keys folder with Google's real public key and no stand-in key: exit 1 saying so", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gsp-google-cli-"));
  for (const f of ["integrator.private.asc", "integrator.public.asc", "google.public.asc"])
    copyFileSync(join(keys, f), join(dir, f));
  const stackFile = join(dir, "stack.json");
  writeFileSync(stackFile, JSON.stringify({ url: stack.url, keysDir: dir, messageCodec: "openpgp" }));
  const r = await googleWith(["capture", "--stack-file", stackFile]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^no google-standin\.private\.asc in .*: this client signs as the stand-in Google/);
});

test("refund and echo: the README's walk-through, as Google sends them", async () => {
  const before = await balance(stack, "acct-demo-refund");
  const id = requestId("cli-pay");
  const paid = await google(
    "capture",
    "--token",
    "gpt-demo-refund",
    "--request-id",
    id,
    "--amount",
    "7000000",
  );
  assert.equal(answer(paid.stdout).result, "SUCCESS");
  const part = await google("refund", "--capture-request-id", id, "--amount", "3000000");
  assert.equal(part.code, 0);
  assert.match(part.stdout, /^HTTP 200 \(signed and encrypted, signature verified\)\n/);
  assert.equal(answer(part.stdout).result, "SUCCESS");
  const over = await google("refund", "--capture-request-id", id, "--amount", "5000000");
  assert.equal(over.code, 1);
  assert.equal(answer(over.stdout).errorResponseCode, "PRECONDITION_VIOLATION");
  assert.equal(before - (await balance(stack, "acct-demo-refund")), 4_000_000n, "7 debited, 3 given back");
  const missing = await google("refund", "--amount", "1");
  assert.equal(missing.code, 2);
  assert.match(missing.stdout, /needs --capture-request-id/);

  const echoed = await google("echo", "--message", "ping from the CLI");
  assert.equal(echoed.code, 0);
  assert.equal(answer(echoed.stdout).clientMessage, "ping from the CLI");
  assert.match(String(answer(echoed.stdout).serverMessage), /^gsp-integrator echo-/);
});

test("remittanceStatement: the stand-in issues what Google saw, the service reconciles and accepts it", async () => {
  // A stack of its own: its only money movements are the ones this test makes through the CLI.
  const own = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
  const journal = join(mkdtempSync(join(tmpdir(), "gsp-google-journal-")), "seen.jsonl");
  const as = (...args: string[]) =>
    googleWith([
      ...args,
      "--url",
      own.url,
      "--keys",
      keys,
      "--journal",
      journal,
      "--google-url",
      own.google!.url,
    ]);
  const paid = requestId("stmt-pay");
  assert.equal(
    answer((await as("capture", "--request-id", paid, "--amount", "9000000")).stdout).result,
    "SUCCESS",
  );
  assert.equal(
    answer((await as("capture", "--token", "gpt-demo-low-balance")).stdout).result,
    "INSUFFICIENT_FUNDS",
  );
  const back = await as("refund", "--capture-request-id", paid, "--amount", "4000000");
  assert.equal(answer(back.stdout).result, "SUCCESS");
  assert.equal(
    readFileSync(journal, "utf8").trim().split("\n").length,
    2,
    "a capture and a refund noted; the decline not",
  );

  const statementId = requestId("stmt");
  const issued = await as("remittanceStatement", "--fee-bps", "100", "--statement-id", statementId);
  assert.equal(issued.code, 0, issued.stdout);
  assert.match(
    issued.stdout,
    /^statement stmt-[^:]+: 1 capture and 1 refund event\(s\), totalDueByIntegrator 4950000\n/,
  );
  assert.match(issued.stdout, /"result": "ACCEPTED"/);
  assert.match(issued.stdout, /accepted by the integrator \(acceptRemittanceStatement received\)\n$/);
  assert.deepEqual(own.google!.remittance.accepted, [statementId]);

  const bad = await as("remittanceStatement", "--fee-bps", "20000");
  assert.equal(bad.code, 2);
});
