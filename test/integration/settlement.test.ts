import assert from "node:assert/strict";
import { test } from "node:test";
import type { LocalStack } from "../../infra/local/stack.ts";
import { periodsAt } from "../../shared/domain/periods.ts";
import { billingWindow } from "../../shared/domain/reconciliation.ts";
import { withoutHeader } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import {
  approvedNow,
  capturedNow,
  customer,
  issueStatement,
  middayZone,
  refundedNow,
  type Seen,
  settled,
  statementRecord,
} from "../support/settlement.ts";
import { startTestStack } from "../support/stack.ts";

const zone = middayZone();
const stack: LocalStack = await startTestStack(import.meta.filename, {
  sweepIntervalMs: 0,
  ledgerTimeZone: zone,
});
const INR = 1_000_000n;
const today = billingWindow(String(Date.now()), String(Date.now()), zone);

/** A day of business: synchronous captures, approved asynchronous ones, partial refunds. */
const seen: Seen = { captures: [], refunds: [] };
const { accountId, token, vpa } = await customer(stack, "settle-day");
const opening = await balance(stack, accountId);
const c1 = await capturedNow(stack, token, 700n * INR, seen);
await capturedNow(stack, token, 120n * INR + 345_678n, seen);
const a1 = await approvedNow(stack, vpa, 250n * INR, seen);
await approvedNow(stack, vpa, 99n * INR, seen);
await refundedNow(stack, c1, 200n * INR, seen);
await refundedNow(stack, a1, 50n * INR + 1n, seen);
const period = { fromMs: today.fromMs, toMs: today.toMs };

test("a day's statement reconciles to the micro and is accepted; ledger, Google and we agree", async () => {
  const { statement, reply } = await issueStatement(stack, { ...period, ...seen, feeBps: 150 });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.result, "ACCEPTED");
  assert.match(String(reply.body.paymentIntegratorStatementId), /^[0-9a-z]{9}[A-Za-z0-9_-]{12}$/);
  const record = await settled(stack, statement.statementId, [
    "ACCEPTED",
    "DISCREPANCIES",
    "DETAILS_REFUSED",
  ]);
  assert.equal(record.state, "ACCEPTED", JSON.stringify(record.reconciliation?.discrepancies));
  assert.equal(record.acceptance.by, "auto");
  assert.deepEqual(stack.google!.remittance.accepted, [statement.statementId]);
  const r = record.reconciliation!;
  assert.equal(r.exact, true);
  assert.equal(r.events, 6);
  assert.equal(r.matched, 6);
  assert.deepEqual(r.discrepancies, []);
  // Charges: captures minus refunds; fees: 1.5 % of each charge, paid by Google (negative).
  const charges = 700n * INR + 120n * INR + 345_678n + 250n * INR + 99n * INR - 200n * INR - (50n * INR + 1n);
  assert.equal(r.totals.ourCharges, charges.toString());
  assert.equal(r.totals.googleCharges, charges.toString());
  assert.equal(r.totals.ourTotalDue, statement.summary.totalDueByIntegrator);
  assert.equal(r.totals.googleEventsTotal, statement.summary.totalDueByIntegrator);
  assert.equal(BigInt(r.totals.googleTotalDue), BigInt(r.totals.ourCharges) + BigInt(r.totals.googleFees));
  assert.equal(
    await balance(stack, accountId),
    opening - charges,
    "the ledger moved exactly what is settled",
  );
});

test("a retried notification is answered the same and reconciles nothing twice; another body is 412", async () => {
  const { statement, reply } = await issueStatement(stack, { ...period, ...seen });
  await settled(stack, statement.statementId, ["ACCEPTED"]);
  const again = await issueStatement(stack, { ...period, ...seen, statementId: statement.statementId });
  assert.equal(again.reply.status, 200);
  assert.deepEqual(withoutHeader(again.reply.body), withoutHeader(reply.body));
  const other = await issueStatement(stack, {
    ...period,
    ...seen,
    statementId: statement.statementId,
    totalOffBy: 1n,
  });
  assert.equal(other.reply.status, 412);
  assert.equal(other.reply.body.errorResponseCode, "IDEMPOTENCY_VIOLATION");
  assert.equal(stack.google!.remittance.accepted.filter((id) => id === statement.statementId).length, 1);
});

/** Each lie Google can tell, the discrepancy it must produce, and no acceptance. */
const lies: [
  string,
  Parameters<typeof issueStatement>[1],
  (r: NonNullable<Awaited<ReturnType<typeof statementRecord>>>) => void,
][] = [
  [
    "a dropped capture is ours only",
    { ...period, ...seen, lie: { dropCapture: 1 } },
    (s) => {
      const [d] = s.reconciliation!.discrepancies;
      assert.equal(s.reconciliation!.discrepancyCount, 1);
      assert.equal(d!.type, "OURS_ONLY");
      assert.equal(d!.requestId, seen.captures[1]!.requestId);
      assert.equal(d!.ourId, seen.captures[1]!.paymentIntegratorId);
    },
  ],
  [
    "a changed amount is a mismatch naming both amounts",
    { ...period, ...seen, lie: { changeCaptureAmount: { index: 2, by: 1n } } },
    (s) => {
      const [d] = s.reconciliation!.discrepancies;
      assert.equal(s.reconciliation!.discrepancyCount, 1);
      assert.equal(d!.type, "MISMATCH");
      assert.equal(d!.why, "amounts differ");
      assert.equal(d!.googleCharge, String(250n * INR + 1n));
      assert.equal(d!.ourCharge, String(250n * INR));
    },
  ],
  [
    "an unknown capture is Google's only",
    { ...period, ...seen, lie: { addUnknownCapture: "never-made-1" } },
    (s) => {
      const [d] = s.reconciliation!.discrepancies;
      assert.equal(s.reconciliation!.discrepancyCount, 1);
      assert.equal(d!.type, "GOOGLE_ONLY");
      assert.equal(d!.requestId, "never-made-1");
    },
  ],
  [
    "a total that is not the sum of the events",
    { ...period, ...seen, totalOffBy: 5n },
    (s) => {
      assert.equal(s.reconciliation!.discrepancyCount, 0);
      assert.deepEqual(s.reconciliation!.totalsProblems, [
        "Google's totalDueByIntegrator is not the sum of its own events",
        "Google's totalDueByIntegrator is not ours (our charges plus Google's fees)",
      ]);
    },
  ],
];
for (const [name, args, check] of lies) {
  test(`planted: ${name}; the statement is blocked, not accepted`, async () => {
    const { statement, reply } = await issueStatement(stack, args);
    assert.equal(reply.status, 200);
    const record = await settled(stack, statement.statementId, ["DISCREPANCIES", "ACCEPTED", "RECONCILED"]);
    assert.equal(record.state, "DISCREPANCIES");
    assert.equal(record.reconciliation!.exact, false);
    check(record);
    assert.equal(stack.google!.remittance.accepted.includes(statement.statementId), false);
  });
}

test("a movement of another day is OUTSIDE_PERIOD in that day's statement, not matched", async () => {
  // Yesterday's window holds none of today's movements: every event is outside its period.
  const yesterday = { fromMs: period.fromMs - 86_400_000, toMs: period.fromMs };
  const { statement } = await issueStatement(stack, {
    ...yesterday,
    captures: seen.captures.slice(0, 1),
    refunds: [],
  });
  const record = await settled(stack, statement.statementId, ["DISCREPANCIES", "ACCEPTED"]);
  assert.deepEqual(
    record.reconciliation!.discrepancies.map((d) => [d.type, d.requestId]),
    [["OUTSIDE_PERIOD", seen.captures[0]!.requestId]],
  );
  assert.equal(periodsAt(period.fromMs, zone).day, periodsAt(Date.now(), zone).day);
});

test("the notification refuses what the protocol refuses and stores nothing", async () => {
  const { statement, reply } = await issueStatement(stack, { ...period, captures: [], refunds: [] }, (s) => {
    s.summary.currencyCode = "USD";
  });
  assert.equal(reply.status, 400);
  assert.equal(reply.body.errorResponseCode, "INVALID_FIELD_VALUE");
  assert.equal(await statementRecord(stack, statement.statementId), undefined);
  const unknown = await issueStatement(stack, { ...period, captures: [], refunds: [] }, (s) => {
    s.paymentIntegratorAccountId = "NoSuchPiaid";
  });
  assert.equal(unknown.reply.status, 404);
  assert.equal(unknown.reply.body.errorResponseCode, "INVALID_IDENTIFIER");
});
