import assert from "node:assert/strict";
import { test } from "node:test";
import type { LocalStack } from "../../infra/local/stack.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  requestId,
} from "../support/google.ts";
import { startTestStack } from "../support/stack.ts";

/**
 * A fresh process: the instrument → account binding is not known yet (cold). No periodic sweeper:
 * its index queries would land among the commands counted here.
 */
const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });

async function commandsOf(body: Record<string, unknown>) {
  stack.dynamodbCommands.length = 0;
  const reply = await capture(stack.url, body);
  return { reply, commands: [...stack.dynamodbCommands] };
}

test("DynamoDB round trips per capture: fresh, replay, decline, cold and warm", async () => {
  const cold = await commandsOf(captureRequest({ amount: "1000000" }));
  assert.equal(cold.reply.body.result, "SUCCESS");
  // First sight of this token in this process: the instrument must be read before its account.
  assert.deepEqual(cold.commands, [
    "BatchGetItemCommand",
    "BatchGetItemCommand",
    "TransactWriteItemsCommand",
  ]);

  const id = requestId("budget");
  const warm = await commandsOf(captureRequest({ amount: "1000000" }, id));
  assert.equal(warm.reply.body.result, "SUCCESS");
  assert.deepEqual(
    warm.commands,
    ["BatchGetItemCommand", "TransactWriteItemsCommand"],
    "fresh: one read + one write",
  );

  const replay = await commandsOf(captureRequest({ amount: "1000000" }, id));
  assert.equal(replay.reply.body.result, "SUCCESS");
  assert.deepEqual(replay.commands, ["BatchGetItemCommand"], "replay: one read");

  const decline = await commandsOf(captureRequest({ amount: "500000" }));
  assert.equal(decline.reply.body.result, "CHARGE_UNDER_LIMIT");
  assert.deepEqual(
    decline.commands,
    ["BatchGetItemCommand", "PutItemCommand"],
    "decline: one read + one conditional Put",
  );

  const invalid = await commandsOf(captureRequest({ amount: "0" }));
  assert.equal(invalid.reply.status, 400);
  assert.deepEqual(
    invalid.commands,
    ["GetItemCommand"],
    "refused by validation: one lookup of a record to replay",
  );

  const keyless = await commandsOf(captureRequest({ amount: "0", paymentIntegratorAccountId: 7 }));
  assert.equal(keyless.reply.status, 400);
  assert.deepEqual(keyless.commands, [], "refused with no usable key: no table touched");
});

test("DynamoDB round trips per sweep: the sparse index, then one read for all the records it found", async () => {
  const ids = Array.from({ length: 6 }, () => requestId("sweep-budget"));
  for (const id of ids) {
    const ack = await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount: "1000000" }, id));
    assert.equal(ack.body.result, "ACKNOWLEDGED");
  }
  stack.dynamodbCommands.length = 0;
  // The sweeper's clock past the deadline: all six are due, found in one pass.
  const swept = await sweep({ ...stack.deps.outcome, now: () => Date.now() + 11 * 60_000 });
  assert.deepEqual(swept, { expired: 6, enqueued: 0 });
  // The sweep reads, then writes; the notifier (same process) starts reading once messages are queued.
  const commands = [...stack.dynamodbCommands];
  const reads = commands.slice(
    0,
    commands.findIndex((c) => /Write|Update|Put/.test(c)),
  );
  assert.ok(!commands.includes("ScanCommand"));
  assert.deepEqual(
    reads,
    ["QueryCommand", "QueryCommand", "QueryCommand", "QueryCommand", "BatchGetItemCommand"],
    "one Query per index shard, then one strongly consistent BatchGetItem; never a Scan, never a GetItem per record",
  );
});
