import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { LocalStack } from "../../infra/local/stack.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  reportOutcome,
  requestId,
  until,
} from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

/** Google goes down under a few hundred captures; some notifications exhaust their tries; operators replay. */
const run = promisify(execFile);
const stack: LocalStack = await startTestStack(import.meta.filename, {
  sweepIntervalMs: 0,
  notify: { backoffBaseSeconds: 0 },
});
const google = stack.google!;
const stackFile = join(mkdtempSync(join(tmpdir(), "gsp-outage-")), "stack.json");
writeFileSync(
  stackFile,
  JSON.stringify({ endpoints: stack.endpoints, tables: stack.config.tables, queues: stack.queues }),
);

async function depth(url: string) {
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

test("Google down under 200 asynchronous captures: retries, DLQ, replay; every outcome delivered with one value", async () => {
  const COUNT = 200;
  const before = await balance(stack, "acct-demo-main");
  google.fail("HTTP_500");
  const ids = Array.from({ length: COUNT }, () => requestId("outage"));
  const results = new Map<string, string>();
  // Eight callers at a time, as Google and the bank's systems would be.
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let id = queue.pop(); id; id = queue.pop()) {
        const ack = await asynchronousCapture(
          stack.url,
          asynchronousCaptureRequest({ amount: "1000000" }, id),
        );
        assert.equal(ack.body.result, "ACKNOWLEDGED");
        const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
        assert.equal(outcome.status, 200);
        results.set(id, (outcome.body.captureResult as { captureResultCode: string }).captureResultCode);
      }
    }),
  );
  assert.equal(
    before - (await balance(stack, "acct-demo-main")),
    1_000_000n * BigInt(COUNT),
    "one debit per approval",
  );
  // While Google is down every notification runs through its tries into the DLQ.
  await until(
    "all notifications in the DLQ",
    async () => (await depth(stack.queues.notifications!.deadLetterUrl!)) === COUNT,
    120_000,
  );
  assert.equal(google.received.length, 0);
  assert.equal(google.attempts.length, COUNT * 8, "maxReceiveCount tries each");

  google.recover();
  const { stdout } = await run(
    process.execPath,
    ["infra/ops/cli.ts", "dlq", "replay", "--stack-file", stackFile],
    {
      cwd: resolve(import.meta.dirname, "../.."),
    },
  );
  assert.match(stdout, new RegExp(`replayed ${COUNT} message\\(s\\); 0 left in the DLQ`));
  await until(
    "every outcome delivered",
    () => new Set(google.received.map((r) => r.request.captureRequestId)).size === COUNT,
    120_000,
  );
  for (const id of ids) {
    const tries = google.attempts.filter((a) => a.request.captureRequestId === id);
    const values = new Set(
      tries.map((t) => JSON.stringify([t.request.requestHeader.requestId, t.request.captureResult])),
    );
    assert.equal(values.size, 1, `${id}: one requestId and one result across ${tries.length} tries`);
    assert.equal(
      google.received.find((r) => r.request.captureRequestId === id)!.request.captureResult.captureResultCode,
      results.get(id),
    );
  }
});
