import assert from "node:assert/strict";
import { test } from "node:test";
import { GetItemCommand, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import type { LocalStack } from "../../infra/local/stack.ts";
import { itemToAccount, S } from "../../shared/adapters/dynamodb/items.ts";
import { setInstrumentStatus } from "../../shared/adapters/dynamodb/ledger-store.ts";
import { itemToRefund } from "../../shared/adapters/dynamodb/refund-store.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import { refund as refundDomain } from "../../shared/domain/refund-service.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  PIAID,
  refund,
  refundRequest,
  reportOutcome,
  requestId,
  until,
  withoutHeader,
} from "../support/google.ts";
import { accountItem, balance, setAccountStatus } from "../support/ledger.ts";
import { customer } from "../support/settlement.ts";
import { startTestStack } from "../support/stack.ts";

const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const { ledger: ledgerTable, captures: capturesTable, refunds: refundsTable } = stack.config.tables;
const INR = 1_000_000n;

/** A fresh account and token of its own per test, so balances are exact whatever runs beside it. */
let accounts = 0;
const freshCustomer = () => customer(stack, `refund-${++accounts}`, 1000n * INR);

async function captured(token: string, amount: bigint) {
  const id = requestId("captured");
  const reply = await capture(
    stack.url,
    captureRequest({ amount: String(amount), googlePaymentToken: token }, id),
  );
  assert.equal(reply.body.result, "SUCCESS");
  return id;
}

async function refundedAmountOf(captureRequestId: string) {
  const out = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: capturesTable,
      Key: { pk: S(idempotencyKey(PIAID, captureRequestId)) },
      ConsistentRead: true,
    }),
  );
  return BigInt(out.Item?.refundedAmount?.N ?? "0");
}

async function refundRecord(refundRequestId: string) {
  const out = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: refundsTable,
      Key: { pk: S(idempotencyKey(PIAID, refundRequestId)) },
      ConsistentRead: true,
    }),
  );
  return out.Item ? itemToRefund(out.Item) : undefined;
}

test("a full refund credits the account the capture debited, and is recorded with our refund id", async () => {
  const { accountId, token } = await freshCustomer();
  const before = await balance(stack, accountId);
  const captureId = await captured(token, 50n * INR);
  const id = requestId("full");
  const reply = await refund(stack.url, refundRequest(captureId, String(50n * INR), {}, id));
  assert.equal(reply.status, 200);
  assert.equal(reply.body.result, "SUCCESS");
  assert.equal(reply.body.rawResult, undefined);
  assert.match(String(reply.body.paymentIntegratorRefundId), /^[0-9a-z]{9}[A-Za-z0-9_-]{12}$/);
  assert.equal(await balance(stack, accountId), before, "debited then credited: back where it was");
  assert.equal(await refundedAmountOf(captureId), 50n * INR);
  const record = await refundRecord(id);
  assert.equal(record?.paymentIntegratorRefundId, reply.body.paymentIntegratorRefundId);
  assert.equal(record?.captureRequestId, captureId);
  assert.equal(record?.amount, 50n * INR);
  assert.equal(record?.accountId, accountId);
  assert.match(
    String(record?.notification?.requestId),
    /^rrn-/,
    "the refund owes Google its refundResultNotification",
  );
});

test("partial refunds add up to the capture; one beyond what remains is PRECONDITION_VIOLATION and moves nothing", async () => {
  const { accountId, token } = await freshCustomer();
  const captureId = await captured(token, 10n * INR);
  const afterCapture = await balance(stack, accountId);
  for (const part of [3n, 5n]) {
    const reply = await refund(stack.url, refundRequest(captureId, String(part * INR)));
    assert.equal(reply.body.result, "SUCCESS");
  }
  assert.equal(await balance(stack, accountId), afterCapture + 8n * INR);
  const over = await refund(stack.url, refundRequest(captureId, String(3n * INR)));
  assert.equal(over.status, 400);
  assert.equal(over.body.errorResponseCode, "PRECONDITION_VIOLATION");
  assert.equal(await balance(stack, accountId), afterCapture + 8n * INR, "nothing moved");
  const rest = await refund(stack.url, refundRequest(captureId, String(2n * INR)));
  assert.equal(rest.body.result, "SUCCESS", "exactly what remains is fine");
  assert.equal(await refundedAmountOf(captureId), 10n * INR);
});

test("a retry gets the same answer and credits once; the same requestId for another refund is 412", async () => {
  const { accountId, token } = await freshCustomer();
  const captureId = await captured(token, 10n * INR);
  const id = requestId("retry");
  const first = await refund(stack.url, refundRequest(captureId, String(4n * INR), {}, id));
  const afterFirst = await balance(stack, accountId);
  const again = await refund(stack.url, refundRequest(captureId, String(4n * INR), {}, id));
  assert.equal(again.status, 200);
  assert.deepEqual(withoutHeader(again.body), withoutHeader(first.body));
  assert.equal(await balance(stack, accountId), afterFirst, "no second credit");
  const other = await refund(stack.url, refundRequest(captureId, String(1n * INR), {}, id));
  assert.equal(other.status, 412);
  assert.equal(other.body.errorResponseCode, "IDEMPOTENCY_VIOLATION");
  assert.equal(await refundedAmountOf(captureId), 4n * INR);
});

test("what cannot be refunded: unknown capture 404, no money moved 400, another currency 400; nothing is stored", async () => {
  const { accountId, token, vpa } = await freshCustomer();
  const unknown = await refund(stack.url, refundRequest("never-captured", String(INR)));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.errorResponseCode, "INVALID_IDENTIFIER");
  assert.match(String(unknown.body.errorDescription), /captureRequestId/);

  const declinedId = requestId("declined");
  const declined = await capture(
    stack.url,
    captureRequest({ amount: "500000", googlePaymentToken: "gpt-demo-success" }, declinedId),
  );
  assert.equal(declined.body.result, "CHARGE_UNDER_LIMIT");
  const onDecline = await refund(stack.url, refundRequest(declinedId, "500000"));
  assert.equal(onDecline.status, 400);
  assert.equal(onDecline.body.errorResponseCode, "PRECONDITION_VIOLATION");

  const pendingId = requestId("pending");
  const ack = await asynchronousCapture(
    stack.url,
    asynchronousCaptureRequest({ amount: String(INR), upiDetails: { vpa } }, pendingId),
  );
  assert.equal(ack.body.result, "ACKNOWLEDGED");
  const onPending = await refund(stack.url, refundRequest(pendingId, String(INR)));
  assert.equal(onPending.status, 400);
  assert.equal(onPending.body.errorResponseCode, "PRECONDITION_VIOLATION");

  const captureId = await captured(token, 5n * INR);
  const usd = await refund(stack.url, refundRequest(captureId, String(INR), { currencyCode: "USD" }));
  assert.equal(usd.status, 400);
  assert.equal(usd.body.errorResponseCode, "INVALID_FIELD_VALUE");

  const zero = await refund(stack.url, refundRequest(captureId, "0"));
  assert.equal(zero.body.errorResponseCode, "INVALID_FIELD_VALUE");
  const missing = await refund(
    stack.url,
    refundRequest(captureId, String(INR), { captureRequestId: undefined }),
  );
  assert.equal(missing.body.errorResponseCode, "MISSING_REQUIRED_FIELD");

  for (const id of [declinedId, pendingId, captureId, "never-captured"]) {
    assert.equal(await refundedAmountOf(id), 0n);
  }
  const afterAll = await balance(stack, accountId);
  assert.equal(afterAll, 1000n * INR - 5n * INR, "only the SUCCESS capture moved money");
});

test("an asynchronous capture approved later is refundable", async () => {
  const { accountId, vpa } = await freshCustomer();
  const id = requestId("async-refund");
  const ack = await asynchronousCapture(
    stack.url,
    asynchronousCaptureRequest({ amount: String(7n * INR), upiDetails: { vpa } }, id),
  );
  assert.equal(ack.body.result, "ACKNOWLEDGED");
  const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
  assert.equal(outcome.status, 200);
  const afterDebit = await balance(stack, accountId);
  const reply = await refund(stack.url, refundRequest(id, String(7n * INR)));
  assert.equal(reply.body.result, "SUCCESS");
  assert.equal(await balance(stack, accountId), afterDebit + 7n * INR);
});

test("the account can no longer receive money: the refund is declined with its code and rawResult, nothing moves", async () => {
  for (const [status, code] of [
    ["CLOSED", "ACCOUNT_CLOSED"],
    ["ON_HOLD", "ACCOUNT_ON_HOLD"],
    ["CLOSED_FRAUD", "ACCOUNT_CLOSED_FRAUD"],
    ["CLOSED_ACCOUNT_TAKEN_OVER", "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER"],
  ] as const) {
    const { accountId, token } = await freshCustomer();
    const captureId = await captured(token, 5n * INR);
    await setAccountStatus(stack, accountId, status);
    const before = await balance(stack, accountId);
    const id = requestId("refused");
    const reply = await refund(stack.url, refundRequest(captureId, String(5n * INR), {}, id));
    assert.equal(reply.status, 200);
    assert.equal(reply.body.result, code);
    assert.deepEqual(reply.body.rawResult, { scope: "LEDGER", rawCode: `ACCOUNT_${status}` });
    assert.equal(await balance(stack, accountId), before, `${status}: nothing credited`);
    assert.equal(await refundedAmountOf(captureId), 0n, `${status}: nothing counted as refunded`);
    const again = await refund(stack.url, refundRequest(captureId, String(5n * INR), {}, id));
    assert.deepEqual(
      withoutHeader(again.body),
      withoutHeader(reply.body),
      "the decline is replayed as recorded",
    );
  }
});

test("a refund works whatever happened to the token since the capture", async () => {
  const { accountId, token } = await freshCustomer();
  const captureId = await captured(token, 5n * INR);
  await setInstrumentStatus(
    stack.dynamodb,
    ledgerTable,
    { kind: "TOKEN", googlePaymentToken: token, accountId, status: "ACTIVE" },
    "INVALIDATED_BY_USER",
  );
  const before = await balance(stack, accountId);
  const reply = await refund(stack.url, refundRequest(captureId, String(5n * INR)));
  assert.equal(reply.body.result, "SUCCESS");
  assert.equal(await balance(stack, accountId), before + 5n * INR);
});

test("a refund gives back no daily or monthly limit room: the limits count what was spent", async () => {
  for (const [limits, decline] of [
    [{ dailyMax: String(10n * INR) }, "CHARGE_EXCEEDS_DAILY_LIMIT"],
    [{ monthlyCountMax: 1 }, "CHARGE_EXCEEDS_MONTHLY_LIMIT"],
  ] as const) {
    const { accountId, token } = await customer(stack, `refund-${++accounts}`, 1000n * INR, limits);
    const captureId = await captured(token, 10n * INR);
    const reply = await refund(stack.url, refundRequest(captureId, String(10n * INR)));
    assert.equal(reply.body.result, "SUCCESS");
    assert.equal(await balance(stack, accountId), 1000n * INR, "the capture given back whole");
    const next = await capture(stack.url, captureRequest({ amount: String(INR), googlePaymentToken: token }));
    assert.equal(next.body.result, decline, `${JSON.stringify(limits)}: the refunded capture still counts`);
    const spend = itemToAccount(await accountItem(stack, accountId)).currencies.INR!.spend!;
    assert.deepEqual(
      [spend.dayAmount, spend.monthAmount, spend.monthCount],
      [10n * INR, 10n * INR, 1],
      "the counters are what was captured, the refund taken off none of them",
    );
  }
});

test("50 concurrent refunds of a tenth each: exactly 10 succeed, the account gets back exactly the capture", async () => {
  const { accountId, token } = await freshCustomer();
  const captureId = await captured(token, 100n * INR);
  const afterCapture = await balance(stack, accountId);
  const replies = await Promise.all(
    Array.from({ length: 50 }, () => refund(stack.url, refundRequest(captureId, String(10n * INR)))),
  );
  const ok = replies.filter((r) => r.status === 200 && r.body.result === "SUCCESS");
  const refused = replies.filter(
    (r) => r.status === 400 && r.body.errorResponseCode === "PRECONDITION_VIOLATION",
  );
  assert.equal(ok.length, 10, replies.map((r) => r.body.result ?? r.body.errorResponseCode).join(","));
  assert.equal(refused.length, 40);
  assert.equal(await balance(stack, accountId), afterCapture + 100n * INR);
  assert.equal(await refundedAmountOf(captureId), 100n * INR);
});

test("a refund transaction cancelled by throttling, under either code, is decided again and credits once", async () => {
  const { accountId, token } = await freshCustomer();
  const captureId = await captured(token, 10n * INR);
  const service = stack.deps.dynamodb;
  for (const code of ["ThrottlingError", "ProvisionedThroughputExceeded"]) {
    const before = await balance(stack, accountId);
    const name = `throttle-${code}`;
    let thrown = 0;
    // The record, the capture's room and the credit: the credit's item was throttled, the others not tried.
    service.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" && thrown === 0) {
          thrown++;
          throw new TransactionCanceledException({
            message: `Transaction cancelled [None, None, ${code}]`,
            $metadata: {},
            CancellationReasons: [{ Code: "None" }, { Code: "None" }, { Code: code }],
          });
        }
        return next(args);
      },
      { step: "initialize", name },
    );
    try {
      const reply = await refund(stack.url, refundRequest(captureId, String(INR)));
      assert.equal(thrown, 1);
      assert.equal(reply.status, 200, `${code}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.result, "SUCCESS");
    } finally {
      service.middlewareStack.remove(name);
    }
    assert.equal(await balance(stack, accountId), before + INR, `${code}: credited once`);
  }
  assert.equal(await refundedAmountOf(captureId), 2n * INR);
});

test("every committed refund owes one refundResultNotification, sent with our requestId fixed at commit", async () => {
  const google = stack.google!;
  const { accountId, token } = await freshCustomer();
  const captureId = await captured(token, 6n * INR);
  const okId = requestId("notified-ok");
  const ok = await refund(stack.url, refundRequest(captureId, String(2n * INR), {}, okId));
  await setAccountStatus(stack, accountId, "ON_HOLD");
  const heldId = requestId("notified-held");
  const held = await refund(stack.url, refundRequest(captureId, String(2n * INR), {}, heldId));
  assert.equal(held.body.result, "ACCOUNT_ON_HOLD");
  for (const [id, reply] of [
    [okId, ok],
    [heldId, held],
  ] as const) {
    await until(`the refundResultNotification of ${id} recorded as delivered`, async () => {
      return (await refundRecord(id))?.notification?.state === "NOTIFIED";
    });
    const record = (await refundRecord(id))!;
    const sent = google.refundNotifications.filter((n) => n.request.refundRequestId === id);
    assert.equal(sent.length, 1, `${id}: exactly one accepted delivery`);
    assert.deepEqual(sent[0]!.request.requestHeader.requestId, record.notification!.requestId);
    assert.equal(sent[0]!.request.refundResult, reply.body.result);
    assert.equal(sent[0]!.request.paymentIntegratorRefundId, reply.body.paymentIntegratorRefundId);
    assert.equal(sent[0]!.paymentIntegratorAccountId, PIAID);
    assert.match(record.notification!.requestId, /^rrn-[a-z0-9]+-[A-Za-z0-9_-]{12}$/);
  }
});

test("a refund whose writer died before enqueuing its notification is delivered by the sweeper", async () => {
  const { token } = await freshCustomer();
  const captureId = await captured(token, 3n * INR);
  const id = requestId("swept-refund");
  // The queue refuses, as if the process died between the commit and the enqueue.
  const deps = { ...stack.deps.refund, queue: { enqueue: () => Promise.reject(new Error("queue down")) } };
  const outcome = await refundDomain(deps, refundRequest(captureId, String(INR), {}, id));
  assert.equal(outcome.response.result, "SUCCESS");
  const owed = await refundRecord(id);
  assert.equal(owed?.notification?.enqueued, false);
  const marked = await stack.dynamodb.send(
    new GetItemCommand({ TableName: refundsTable, Key: { pk: S(owed!.key) }, ConsistentRead: true }),
  );
  assert.equal(
    Number(marked.Item?.sweepAt?.N),
    owed!.notification!.decidedAtMs + stack.config.enqueueGraceSeconds * 1000,
    "in the sweep index from the end of the writer's grace period",
  );
  const google = stack.google!;
  assert.equal(google.refundNotifications.filter((n) => n.request.refundRequestId === id).length, 0);
  // The sweeper's clock past the writer's grace period.
  const swept = await sweep({ ...stack.deps.outcome, now: () => Date.now() + 31_000 });
  assert.equal(swept.enqueued >= 1, true);
  await until(
    "the swept notification delivered",
    async () => (await refundRecord(id))?.notification?.state === "NOTIFIED",
  );
  assert.equal(google.refundNotifications.filter((n) => n.request.refundRequestId === id).length, 1);
});

test("REFUND_NOTIFICATIONS=off: a refund owes no notification; one read and one transactional write, a replay one read", async () => {
  // Without the notifier's own reads interleaving, the refund's commands are exactly its budget.
  const quiet = await startTestStack(import.meta.filename, {
    sweepIntervalMs: 0,
    refundNotifications: false,
  });
  const captureId = requestId("quiet");
  const captureReply = await capture(quiet.url, captureRequest({ amount: String(5n * INR) }, captureId));
  assert.equal(captureReply.body.result, "SUCCESS");
  const id = requestId("quiet-refund");
  quiet.dynamodbCommands.length = 0;
  assert.equal(
    (await refund(quiet.url, refundRequest(captureId, String(INR), {}, id))).body.result,
    "SUCCESS",
  );
  assert.deepEqual(quiet.dynamodbCommands, ["BatchGetItemCommand", "TransactWriteItemsCommand"]);
  quiet.dynamodbCommands.length = 0;
  assert.equal(
    (await refund(quiet.url, refundRequest(captureId, String(INR), {}, id))).body.result,
    "SUCCESS",
  );
  assert.deepEqual(quiet.dynamodbCommands, ["BatchGetItemCommand"], "a replay: one read");
  quiet.dynamodbCommands.length = 0;
  const refused = await refund(quiet.url, refundRequest(captureId, String(100n * INR)));
  assert.equal(refused.body.errorResponseCode, "PRECONDITION_VIOLATION");
  assert.deepEqual(
    quiet.dynamodbCommands,
    ["BatchGetItemCommand", "GetItemCommand"],
    "refused for what remains: the read, then its own key once more (a duplicate may have just committed it), no write",
  );
  quiet.dynamodbCommands.length = 0;
  const unknown = await refund(quiet.url, refundRequest("never-captured", String(INR)));
  assert.equal(unknown.body.errorResponseCode, "INVALID_IDENTIFIER");
  assert.deepEqual(quiet.dynamodbCommands, ["BatchGetItemCommand"], "other refusals: the read alone");
  const out = await quiet.dynamodb.send(
    new GetItemCommand({
      TableName: quiet.config.tables.refunds,
      Key: { pk: S(idempotencyKey(PIAID, id)) },
      ConsistentRead: true,
    }),
  );
  assert.equal(out.Item?.notification, undefined);
  assert.equal(out.Item?.sweepShard, undefined, "nothing for the sweeper either");

  // A decline: the refused credit returns the account with its cancellation; the decline is recorded on the same read.
  const closing = requestId("quiet-closing");
  const paid = captureRequest({ amount: String(INR), googlePaymentToken: "gpt-demo-refund" }, closing);
  assert.equal((await capture(quiet.url, paid)).body.result, "SUCCESS");
  await setAccountStatus(quiet, "acct-demo-refund", "CLOSED");
  quiet.dynamodbCommands.length = 0;
  const declined = await refund(quiet.url, refundRequest(closing, String(INR)));
  assert.equal(declined.body.result, "ACCOUNT_CLOSED");
  assert.deepEqual(
    quiet.dynamodbCommands,
    ["BatchGetItemCommand", "TransactWriteItemsCommand", "PutItemCommand"],
    "a decline: the one read, the refused transaction, then the decline's Put — no second read",
  );
});
