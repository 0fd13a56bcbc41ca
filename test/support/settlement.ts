import assert from "node:assert/strict";
import {
  buildStatement,
  type DeskStatement,
  type SeenMovement,
  type StatementArgs,
  statementNotificationBody,
} from "../../infra/local/google-statements.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { DynamoStatementStore } from "../../shared/adapters/dynamodb/statement-store.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import type { StatementRecord, StatementState } from "../../shared/domain/statement-service.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  PIAID,
  post,
  refund,
  refundRequest,
  reportOutcome,
  requestId,
  until,
} from "./google.ts";

/** A fixed-offset zone in which it is now between 12:00 and 13:00, so a test's day never straddles midnight. */
export function middayZone(now = Date.now()): string {
  const offset = Math.max(-12, Math.min(14, 12 - new Date(now).getUTCHours()));
  // Etc/GMT's sign is the reverse of the offset's.
  return offset === 0 ? "UTC" : `Etc/GMT${offset > 0 ? "-" : "+"}${Math.abs(offset)}`;
}

/** What Google saw on one day: its captures answered SUCCESS, the SUCCESS notifications, the refunds. */
export interface Seen {
  captures: SeenMovement[];
  refunds: SeenMovement[];
}

/** An ACTIVE account of its own, `acct-${name}`, with one token and one VPA; `inr` adds INR settings (limits). */
export async function customer(
  stack: LocalStack,
  name: string,
  balance = 1_000_000_000_000n,
  inr: Record<string, unknown> = {},
) {
  const accountId = `acct-${name}`;
  const token = `gpt-${name}`;
  await loadLedger(
    stack.dynamodb,
    stack.config.tables.ledger,
    parseLedgerFixture({
      accounts: [{ accountId, status: "ACTIVE", currencies: { INR: { balance: String(balance), ...inr } } }],
      tokens: [{ googlePaymentToken: token, accountId, status: "ACTIVE" }],
      vpas: [{ vpa: `${name}@demobank`, accountId }],
    }),
  );
  return { accountId, token, vpa: `${name}@demobank` };
}

export async function capturedNow(stack: LocalStack, token: string, amount: bigint, seen: Seen) {
  const id = requestId("cap");
  const reply = await capture(
    stack.url,
    captureRequest({ amount: String(amount), googlePaymentToken: token }, id),
  );
  assert.equal(reply.body.result, "SUCCESS");
  seen.captures.push({
    requestId: id,
    paymentIntegratorId: String(reply.body.paymentIntegratorTransactionId),
    amount,
  });
  return id;
}

/** An asynchronous capture approved by the customer; Google learns it from the SUCCESS notification. */
export async function approvedNow(stack: LocalStack, vpa: string, amount: bigint, seen: Seen) {
  const id = requestId("async");
  const ack = await asynchronousCapture(
    stack.url,
    asynchronousCaptureRequest({ amount: String(amount), upiDetails: { vpa } }, id),
  );
  assert.equal(ack.body.result, "ACKNOWLEDGED");
  const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
  assert.equal(outcome.status, 200);
  const google = stack.google!;
  await until("the SUCCESS notification reaches Google", () =>
    google.received.some((n) => n.request.captureRequestId === id),
  );
  const n = google.received.find((x) => x.request.captureRequestId === id)!;
  assert.equal(n.request.captureResult.captureResultCode, "SUCCESS");
  seen.captures.push({
    requestId: id,
    paymentIntegratorId: String(n.request.paymentIntegratorTransactionId),
    amount,
  });
  return id;
}

export async function refundedNow(stack: LocalStack, captureRequestId: string, amount: bigint, seen: Seen) {
  const id = requestId("ref");
  const reply = await refund(stack.url, refundRequest(captureRequestId, String(amount), {}, id));
  assert.equal(reply.body.result, "SUCCESS");
  seen.refunds.push({
    requestId: id,
    paymentIntegratorId: String(reply.body.paymentIntegratorRefundId),
    amount,
  });
  return id;
}

let statements = 0;
/** The stand-in issues a statement for these movements and notifies the integrator; returns it and the answer. */
export async function issueStatement(
  stack: LocalStack,
  args: Omit<StatementArgs, "piaid" | "statementId" | "currencyCode"> & { statementId?: string },
  configure: (s: DeskStatement) => void = () => {},
) {
  statements += 1;
  const statement = buildStatement({
    piaid: PIAID,
    currencyCode: "INR",
    statementId: args.statementId ?? `stmt-${process.pid}-${Date.now().toString(36)}-${statements}`,
    ...args,
  });
  configure(statement);
  stack.google!.remittance.add(statement);
  const reply = await post(
    stack.url,
    "/v1/remittanceStatementNotification",
    statementNotificationBody(statement),
  );
  return { statement, reply };
}

/** Read with the stack's uncounted client, so polling never shows in a request budget. */
export const statementRecord = (stack: LocalStack, statementId: string) =>
  new DynamoStatementStore(stack.dynamodb, stack.config.tables).get(idempotencyKey(PIAID, statementId));

export async function settled(
  stack: LocalStack,
  statementId: string,
  states: StatementState[],
  what = `statement ${statementId} in ${states.join(" or ")}`,
): Promise<StatementRecord> {
  let record: StatementRecord | undefined;
  await until(what, async () => {
    record = await statementRecord(stack, statementId);
    return record !== undefined && states.includes(record.state);
  });
  return record!;
}
