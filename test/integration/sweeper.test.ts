import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BatchGetItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createSweeperHandler } from "../../functions/sweeper/handler.ts";
import { LOCAL_AWS } from "../../infra/local/local-aws.ts";
import { createQueues } from "../../infra/local/provision.ts";
import { sweepIndexCaptures } from "../../shared/adapters/dynamodb/capture-queries.ts";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { SWEEP_SHARDS, shardOf } from "../../shared/adapters/dynamodb/owed-notifications.ts";
import { sqsNotificationQueue } from "../../shared/adapters/sqs/notification-queue.ts";
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import { PIAID, requestId } from "../support/google.ts";
import { parsedLogs } from "../support/log-capture.ts";
import { startTestStack } from "../support/stack.ts";

const stack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const store = stack.deps.capture.store;
/** A backlog of a few hundred (SWEEP_BACKLOG=3000 to measure a bigger one). */
const BACKLOG = Number(process.env.SWEEP_BACKLOG ?? 400);
// The expiries' notifications go to a real queue of their own that nobody consumes, so the
// stand-in Google's work does not share the machine with the sweep.
const parked = await createQueues(stack.sqs, `parked-${Date.now().toString(36)}-`);
const queue = sqsNotificationQueue(stack.sqs, parked.notifications.url);
/** The sweeper's clock: every capture below is past its deadline by a minute or more. */
const sweepNow = Date.now() + 11 * 60_000;
const firstDeadline = Date.now() + 10 * 60_000;
const sweeperDeps = { ...stack.deps.outcome, queue, now: () => sweepNow };

function pendingRecord(id: string, deadlineMs: number): CaptureRecord {
  const paymentIntegratorTransactionId = `tx-${id}`;
  return {
    key: `${PIAID}#${id}`,
    paymentIntegratorAccountId: PIAID,
    requestId: id,
    method: "asynchronousCapture",
    fingerprint: "sweeper-test",
    paymentIntegratorTransactionId,
    response: { paymentIntegratorTransactionId, result: "ACKNOWLEDGED" },
    state: "PENDING",
    amount: 1_000_000n,
    currencyCode: "INR",
    transactionDescription: "sweeper test",
    accountId: "acct-demo-main",
    instrumentKind: "VPA",
    instrumentRef: "VPA#sweeper-test",
    createdAtMs: Date.now(),
    deadlineMs,
  };
}

/** `n` acknowledged captures, the i-th with its deadline i ms after the first. */
async function backlog(n: number): Promise<string[]> {
  const records = Array.from({ length: n }, (_, i) => pendingRecord(requestId("due"), firstDeadline + i));
  for (let i = 0; i < records.length; i += 25) {
    const written = await Promise.all(
      records.slice(i, i + 25).map((r) => store.write(r, undefined, undefined)),
    );
    assert.ok(written.every((w) => w.kind === "COMMITTED"));
  }
  return records.map((r) => r.key);
}

const byShard = (keys: string[]) => {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(shardOf(k), (counts.get(shardOf(k)) ?? 0) + 1);
  return [...counts.entries()].sort();
};
const stateOf = async (keys: string[]) =>
  new Map((await Promise.all(keys.map((k) => store.get(k)))).map((r) => [r!.key, r!.state]));

/**
 * The real client, with BatchGetItem answers rewritten as a throttled DynamoDB writes them: for its
 * first `times` calls (all, when omitted) half the keys asked come back unprocessed.
 */
function throttledClient(times = Number.POSITIVE_INFINITY) {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.endpoints.dynamodb });
  const send = client.send.bind(client) as (command: unknown) => Promise<Record<string, unknown>>;
  const calls = { count: 0 };
  client.send = (async (command: unknown) => {
    const out = await send(command);
    if (!(command instanceof BatchGetItemCommand) || ++calls.count > times) return out;
    const responses = out.Responses as Record<string, Record<string, { S?: string }>[]>;
    const unprocessed: Record<string, unknown> = {};
    for (const [table, request] of Object.entries(command.input.RequestItems ?? {})) {
      const held = new Set(
        request.Keys!.slice(0, Math.ceil(request.Keys!.length / 2)).map((k) => JSON.stringify(k)),
      );
      unprocessed[table] = { ...request, Keys: request.Keys!.filter((k) => held.has(JSON.stringify(k))) };
      responses[table] = (responses[table] ?? []).filter(
        (item) => !held.has(JSON.stringify(item.sk ? { pk: item.pk, sk: item.sk } : { pk: item.pk })),
      );
    }
    return { ...out, UnprocessedKeys: unprocessed };
  }) as typeof client.send;
  return { client, store: new DynamoCaptureStore(client, stack.config.tables), calls };
}

const keys = await backlog(BACKLOG);

describe("the sweeper under a backlog", () => {
  test("a page takes evenly from every shard of the index, whatever their order", async () => {
    const page = await store.due(sweepNow, { pageSize: 100 });
    assert.equal(page.records.length, 100);
    const share = 100 / SWEEP_SHARDS;
    assert.deepEqual(
      byShard(page.records.map((r) => r.key)),
      Array.from({ length: SWEEP_SHARDS }, (_, s) => [`S${s}`, share]),
    );
    assert.equal(page.oldestDueAtMs, firstDeadline, "the first page holds the oldest due record");
    assert.ok(page.next !== undefined, "more to come");
  });

  test("unprocessed keys are retried with backoff until every record is read", async () => {
    const plain = await store.due(sweepNow, { pageSize: 100 });
    const throttled = throttledClient(3);
    const page = await throttled.store.due(sweepNow, { pageSize: 100 });
    assert.equal(throttled.calls.count, 4, "three throttled answers, then the rest");
    assert.deepEqual(page.records.map((r) => r.key).sort(), plain.records.map((r) => r.key).sort());
  });

  test("unprocessed keys forever: a bounded number of tries, then an error, not a loop", {
    timeout: 20_000,
  }, async () => {
    const throttled = throttledClient();
    await assert.rejects(
      throttled.store.due(sweepNow, { pageSize: 100, deadlineMs: Date.now() + 60_000 }),
      /keys still unprocessed \(throttled\) after 6 attempts/,
    );
    assert.equal(throttled.calls.count, 6);
    const hurried = throttledClient();
    await assert.rejects(hurried.store.due(sweepNow, { deadlineMs: Date.now() }), /after 1 attempts/);
    assert.equal(hurried.calls.count, 1, "no retry past the invocation's deadline");
  });

  test("the operators' listing of the sweep index reads throttled keys again, a bounded number of times", {
    timeout: 20_000,
  }, async () => {
    const { captures } = stack.config.tables;
    const plain = await sweepIndexCaptures(stack.dynamodb, captures, 100);
    assert.equal(plain.records.length, 100);
    const throttled = throttledClient(3);
    const listed = await sweepIndexCaptures(throttled.client, captures, 100);
    assert.equal(throttled.calls.count, 4, "three throttled answers, then the rest");
    assert.deepEqual(listed.records.map((r) => r.key).sort(), plain.records.map((r) => r.key).sort());
    const forever = throttledClient();
    await assert.rejects(
      sweepIndexCaptures(forever.client, captures, 100),
      /keys still unprocessed \(throttled\)/,
      "an error, not a loop",
    );
    assert.ok(forever.calls.count <= 6);
  });

  test("out of time: the pass stops after the page in hand, which came from every shard", async () => {
    const counts = await sweep(sweeperDeps, { deadlineMs: sweepNow - 1 });
    assert.deepEqual(counts, { expired: 100, enqueued: 0 });
    const states = await stateOf(keys);
    const expired = keys.filter((k) => states.get(k) === "DECIDED");
    assert.deepEqual(
      byShard(expired),
      Array.from({ length: SWEEP_SHARDS }, (_, s) => [`S${s}`, 100 / SWEEP_SHARDS]),
    );
  });

  test("the scheduled sweep drains the whole backlog in one invocation and reports the oldest's age", async (t) => {
    const remaining = BACKLOG - 100;
    const states = await stateOf(keys);
    const oldestLeft = keys.findIndex((k) => states.get(k) === "PENDING");
    const invocation = createSweeperHandler({ ...stack.deps, outcome: sweeperDeps });
    const started = performance.now();
    const counts = await invocation(undefined, { getRemainingTimeInMillis: () => 60_000 });
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `drained ${counts.expired} due records in ${seconds.toFixed(2)} s: ${Math.round((counts.expired / seconds) * 60)} records/minute`,
    );
    assert.deepEqual(counts, { expired: remaining, enqueued: 0 });
    assert.ok([...(await stateOf(keys)).values()].every((s) => s === "DECIDED"));
    // The i-th record's deadline is firstDeadline + i ms: the oldest left has waited this long on the sweeper's clock.
    const metric = parsedLogs().filter(
      (l) => (l as { OldestDueRecordAgeSeconds?: number }).OldestDueRecordAgeSeconds !== undefined,
    );
    assert.equal(metric.length, 1);
    const age = (metric[0] as { OldestDueRecordAgeSeconds: number }).OldestDueRecordAgeSeconds;
    assert.equal(age, Math.round((sweepNow - (firstDeadline + oldestLeft)) / 1000));
    assert.equal((metric[0] as { service?: string }).service, "sweeper");

    const again = await invocation(undefined, { getRemainingTimeInMillis: () => 60_000 });
    assert.deepEqual(again, { expired: 0, enqueued: 0 });
    const ages = parsedLogs()
      .map((l) => (l as { OldestDueRecordAgeSeconds?: number }).OldestDueRecordAgeSeconds)
      .filter((a) => a !== undefined);
    assert.deepEqual(ages.slice(1), [0], "nothing due: age 0");
  });
});
