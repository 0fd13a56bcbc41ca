import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { BatchWriteItemCommand } from "@aws-sdk/client-dynamodb";
import type { PageFault, SeenMovement } from "../../infra/local/google-statements.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { recordToItem } from "../../shared/adapters/dynamodb/capture-store.ts";
import type { Item } from "../../shared/adapters/dynamodb/items.ts";
import { refundToItem } from "../../shared/adapters/dynamodb/refund-store.ts";
import { DynamoStatementStore } from "../../shared/adapters/dynamodb/statement-store.ts";
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import { periodsAt } from "../../shared/domain/periods.ts";
import { reconcileEvents, reconcileStatement } from "../../shared/domain/reconciler.ts";
import { billingWindow, startOfDay } from "../../shared/domain/reconciliation.ts";
import type { RefundRecord } from "../../shared/domain/refund-service.ts";
import { PIAID, until } from "../support/google.ts";
import { issueStatement, middayZone, type Seen, settled, statementRecord } from "../support/settlement.ts";
import { startTestStack } from "../support/stack.ts";

const zone = middayZone();
const stack: LocalStack = await startTestStack(import.meta.filename, {
  sweepIntervalMs: 0,
  ledgerTimeZone: zone,
});
const period = billingWindow(String(Date.now()), String(Date.now()), zone);
const INR = 1_000_000n;

/** Records of ours written straight to the tables (as capture and refund write them), thousands at once. */
async function writeRecords(captures: CaptureRecord[], refunds: RefundRecord[]) {
  const puts = [
    ...captures.map((r) => [stack.config.tables.captures, recordToItem(r)] as const),
    ...refunds.map((r) => [stack.config.tables.refunds, refundToItem(r)] as const),
  ];
  for (let i = 0; i < puts.length; i += 25) {
    const RequestItems: Record<string, { PutRequest: { Item: Item } }[]> = {};
    for (const [table, Item] of puts.slice(i, i + 25)) {
      RequestItems[table] ??= [];
      RequestItems[table].push({ PutRequest: { Item } });
    }
    let pending: typeof RequestItems | undefined = RequestItems;
    while (pending && Object.keys(pending).length > 0) {
      const out = await stack.dynamodb.send(new BatchWriteItemCommand({ RequestItems: pending }));
      pending = out.UnprocessedItems as typeof RequestItems | undefined;
    }
  }
}

let n = 0;
function captureOf(amount: bigint, atMs: number, method: CaptureRecord["method"] = "capture"): CaptureRecord {
  n += 1;
  const requestId = `bulk-${randomBytes(4).toString("hex")}-${n}`;
  return {
    key: idempotencyKey(PIAID, requestId),
    paymentIntegratorAccountId: PIAID,
    requestId,
    method,
    fingerprint: "f",
    paymentIntegratorTransactionId: `tx-${n}`,
    response: { result: "SUCCESS", paymentIntegratorTransactionId: `tx-${n}` },
    state: "DECIDED",
    amount,
    currencyCode: "INR",
    transactionDescription: "",
    accountId: "acct-bulk",
    instrumentKind: "TOKEN",
    instrumentRef: "TOKEN#x",
    createdAtMs: atMs,
  };
}
function refundOf(capture: CaptureRecord, amount: bigint, atMs: number): RefundRecord {
  n += 1;
  const requestId = `bulk-refund-${randomBytes(4).toString("hex")}-${n}`;
  return {
    key: idempotencyKey(PIAID, requestId),
    paymentIntegratorAccountId: PIAID,
    requestId,
    fingerprint: "f",
    paymentIntegratorRefundId: `rf-${n}`,
    captureRequestId: capture.requestId,
    captureKey: capture.key,
    response: { paymentIntegratorRefundId: `rf-${n}`, result: "SUCCESS" },
    amount,
    currencyCode: "INR",
    accountId: "acct-bulk",
    createdAtMs: atMs,
  };
}
const seenOf = (captures: CaptureRecord[], refunds: RefundRecord[]): Seen => ({
  captures: captures.map(
    (c): SeenMovement => ({
      requestId: c.requestId,
      paymentIntegratorId: c.paymentIntegratorTransactionId,
      amount: c.amount,
    }),
  ),
  refunds: refunds.map(
    (r): SeenMovement => ({
      requestId: r.requestId,
      paymentIntegratorId: r.paymentIntegratorRefundId,
      amount: r.amount,
    }),
  ),
});

test("a 2,500-event statement (three pages) reconciles and is accepted in 9 DynamoDB requests", async () => {
  // Business hours of the day: 2,000 captures, 500 partial refunds, all in this period.
  const at = (i: number) => period.fromMs + 8 * 3_600_000 + i * 1000;
  const captures = Array.from({ length: 2000 }, (_, i) => captureOf(BigInt(i + 1) * INR + 7n, at(i)));
  const refunds = captures.slice(0, 500).map((c, i) => refundOf(c, c.amount / 2n, at(2000 + i)));
  await writeRecords(captures, refunds);
  const before = stack.dynamodbCommands.length;
  const { statement } = await issueStatement(stack, { ...period, ...seenOf(captures, refunds), feeBps: 200 });
  const record = await settled(stack, statement.statementId, [
    "ACCEPTED",
    "DISCREPANCIES",
    "DETAILS_REFUSED",
  ]);
  assert.equal(record.state, "ACCEPTED", JSON.stringify(record.reconciliation?.discrepancies.slice(0, 3)));
  assert.equal(record.reconciliation!.matched, 2500);
  assert.deepEqual(
    stack
      .google!.remittance.detailsRequests.filter((r) => r.statementId === statement.statementId)
      .map((r) => r.eventOffset),
    [0, 1000, 2000],
  );
  const used = stack.dynamodbCommands.slice(before);
  const count = (name: string) => used.filter((c) => c === name).length;
  // Notification: GetItem (replay?) + PutItem. Reconciler: GetItem, one Query per table per UTC day the
  // local day touches (2 x 2 here), UpdateItem (reconciliation), UpdateItem (accepted). No read per event.
  const buckets = zone === "UTC" ? 1 : 2;
  assert.deepEqual(
    {
      GetItemCommand: count("GetItemCommand"),
      PutItemCommand: count("PutItemCommand"),
      QueryCommand: count("QueryCommand"),
      UpdateItemCommand: count("UpdateItemCommand"),
    },
    { GetItemCommand: 2, PutItemCommand: 1, QueryCommand: 2 * buckets, UpdateItemCommand: 2 },
  );
  assert.equal(used.length, 5 + 2 * buckets, used.join(","));

  // Reproducible: run again on the same pages and records, the same reconciliation.
  const again = await reconcileEvents(stack.deps.reconciler, record, await eventsOf(statement.statementId));
  assert.deepEqual(again, record.reconciliation);
  // Idempotent: a redelivered message changes nothing and accepts nothing twice.
  const redelivered = await reconcileStatement(stack.deps.reconciler, {
    paymentIntegratorAccountId: PIAID,
    statementId: statement.statementId,
  });
  assert.equal(redelivered.kind, "ALREADY_ACCEPTED");
  assert.equal(stack.google!.remittance.accepted.filter((id) => id === statement.statementId).length, 1);
});

async function eventsOf(statementId: string) {
  const { fetchAllEvents } = await import("../../shared/domain/reconciler.ts");
  const record = (await statementRecord(stack, statementId))!;
  return (await fetchAllEvents(stack.deps.reconciler, record)).events;
}

test("a movement at 23:59:59.999 local belongs to that day's statement, one at 00:00:00.000 to the next", async () => {
  const midnight = period.toMs;
  assert.equal(
    startOfDay(periodsAt(midnight, zone).day, zone),
    midnight,
    "the period ends at a local midnight",
  );
  assert.equal(periodsAt(midnight - 1, zone).day, periodsAt(period.fromMs, zone).day);
  const late = captureOf(11n * INR, midnight - 1);
  const early = captureOf(13n * INR, midnight);
  const lateAsync = captureOf(17n * INR, midnight - 10_000, "asynchronousCapture");
  // An asynchronous capture moved money when its outcome was recorded, not when it was acknowledged.
  lateAsync.state = "DECIDED";
  lateAsync.notification = {
    requestId: "crn-x",
    captureResult: { captureResultCode: "SUCCESS" },
    state: "NOTIFIED",
    enqueued: true,
    decidedAtMs: midnight + 5,
    attempts: [],
  };
  await writeRecords([late, early, lateAsync], []);
  const store = new DynamoStatementStore(stack.dynamodb, stack.config.tables);
  const ids = async (w: { fromMs: number; toMs: number }) =>
    (await store.movementsIn(PIAID, w.fromMs, w.toMs)).map((m) => m.requestId);
  const today = await ids(period);
  const tomorrow = await ids(billingWindow(String(midnight), String(midnight + 86_400_000 - 1), zone));
  assert.ok(today.includes(late.requestId));
  assert.ok(!today.includes(early.requestId));
  assert.ok(!today.includes(lateAsync.requestId), "approved after midnight: tomorrow's");
  assert.ok(tomorrow.includes(early.requestId));
  assert.ok(tomorrow.includes(lateAsync.requestId));
  assert.ok(!tomorrow.includes(late.requestId));
});

const faults: [PageFault, RegExp, boolean][] = [
  ["UNSIGNED", /answer not verifiable/, false],
  ["UNKNOWN_SIGNER", /answer not verifiable/, false],
  ["MALFORMED", /captureEvents is not a list/, false],
  ["REPEAT_OFFSET", /offset|advance/, false],
  ["NEVER_ENDS", /does not advance/, false],
  ["WRONG_TOTAL", /last page leaves 2 events of totalEvents 3/, false],
  ["NOT_FOUND_EMPTY", /Google could not verify us/, true],
];
for (const [index, [fault, reason, configuration]] of faults.entries()) {
  test(`a details page ${fault}: refused with its reason, never accepted, no loop; fixed, it reconciles`, async () => {
    // A day of its own in the past, so no other test's movements are in its period.
    const noon = String(period.fromMs - (index + 2) * 86_400_000 + 43_200_000);
    const day = billingWindow(noon, noon, zone);
    const captures = [captureOf(5n * INR, day.fromMs + 1000), captureOf(6n * INR, day.fromMs + 2000)];
    await writeRecords(captures, []);
    const { statement } = await issueStatement(stack, { ...day, ...seenOf(captures, []) }, (s) => {
      s.fault = fault;
    });
    const record = await settled(stack, statement.statementId, [
      "DETAILS_REFUSED",
      "ACCEPTED",
      "DISCREPANCIES",
    ]);
    assert.equal(record.state, "DETAILS_REFUSED");
    assert.match(record.refusal!.reason, reason);
    assert.equal(stack.google!.remittance.accepted.includes(statement.statementId), false);
    const pages = () =>
      stack.google!.remittance.detailsRequests.filter((r) => r.statementId === statement.statementId).length;
    assert.ok(pages() <= 2, `one walk asks for at most two pages here, not ${pages()}`);
    // Retried within bounds (the queue's maxReceiveCount; here an operator's reconcile) while Google still lies.
    const retried = await reconcileStatement(stack.deps.reconciler, {
      paymentIntegratorAccountId: PIAID,
      statementId: statement.statementId,
    });
    assert.equal(retried.kind, "REFUSED");
    assert.equal(retried.kind === "REFUSED" && retried.configuration, configuration);
    // Google fixes its pages: the next run reconciles and accepts.
    delete statement.fault;
    const fixed = await reconcileStatement(stack.deps.reconciler, {
      paymentIntegratorAccountId: PIAID,
      statementId: statement.statementId,
    });
    assert.equal(fixed.kind, "RECONCILED");
    assert.equal((await statementRecord(stack, statement.statementId))!.state, "ACCEPTED");
    assert.equal((await statementRecord(stack, statement.statementId))!.refusal, undefined);
  });
}

test("an accept Google refuses is kept as the last error, the statement stays reconciled, and a later run accepts it", async () => {
  // A day of its own in the past, after the page-fault tests' days.
  const noon = String(period.fromMs - 30 * 86_400_000 + 43_200_000);
  const day = billingWindow(noon, noon, zone);
  const captures = [captureOf(7n * INR, day.fromMs + 1000)];
  await writeRecords(captures, []);
  const desk = stack.google!.remittance;
  const handle = desk.handle.bind(desk);
  let refusing = true;
  desk.handle = (method, piaid, body) =>
    refusing && method === "acceptRemittanceStatement"
      ? { status: 500, body: { errorResponseCode: "INTERNAL" } }
      : handle(method, piaid, body);
  try {
    const { statement } = await issueStatement(stack, { ...day, ...seenOf(captures, []) });
    await until("the refused accept recorded", async () =>
      Boolean((await statementRecord(stack, statement.statementId))?.acceptance.lastError),
    );
    const refused = (await statementRecord(stack, statement.statementId))!;
    assert.equal(refused.state, "RECONCILED");
    assert.match(refused.acceptance.lastError!, /500/);
    assert.equal(refused.acceptance.acceptedAtMs, undefined);
    assert.equal(desk.accepted.includes(statement.statementId), false);
    refusing = false;
    const again = await reconcileStatement(stack.deps.reconciler, {
      paymentIntegratorAccountId: PIAID,
      statementId: statement.statementId,
    });
    assert.equal(again.kind, "RECONCILED");
    const accepted = (await statementRecord(stack, statement.statementId))!;
    assert.equal(accepted.state, "ACCEPTED");
    assert.equal(accepted.acceptance.requestId, refused.acceptance.requestId, "the same requestId, retried");
    assert.equal(desk.accepted.filter((id) => id === statement.statementId).length, 1);
  } finally {
    desk.handle = handle;
  }
});
