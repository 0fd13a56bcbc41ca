import assert from "node:assert/strict";
import { test } from "node:test";
import type { LocalStack } from "../../infra/local/stack.ts";
import {
  acceptStatementNow,
  exportStatement,
  formatAmount,
  listStatements,
  reconcileStatementNow,
  showStatement,
} from "../../infra/ops/statements.ts";
import { billingWindow } from "../../shared/domain/reconciliation.ts";
import { PIAID, requestId } from "../support/google.ts";
import {
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

// Production's setting: only an operator accepts.
const zone = middayZone();
const stack: LocalStack = await startTestStack(import.meta.filename, {
  sweepIntervalMs: 0,
  ledgerTimeZone: zone,
  statementAcceptance: "operator",
});
const period = billingWindow(String(Date.now()), String(Date.now()), zone);
const INR = 1_000_000n;
const deps = stack.deps.reconciler;
const seen: Seen = { captures: [], refunds: [] };
const { token } = await customer(stack, "ops-day");
const c1 = await capturedNow(stack, token, 40n * INR, seen);
await capturedNow(stack, token, 2n * INR + 500_000n, seen);
await refundedNow(stack, c1, 10n * INR, seen);

test("operator mode: an exact statement waits as RECONCILED; list, show, then accept records who", async () => {
  const { statement } = await issueStatement(stack, { ...period, ...seen, feeBps: 100 });
  const record = await settled(stack, statement.statementId, ["RECONCILED", "ACCEPTED", "DISCREPANCIES"]);
  assert.equal(record.state, "RECONCILED");
  assert.equal(
    stack.google!.remittance.accepted.includes(statement.statementId),
    false,
    "not accepted by itself",
  );

  const listed = await listStatements(deps, "RECONCILED");
  const rows = (listed.json as { statements: { statementId: string; totalDueByIntegrator: string }[] })
    .statements;
  assert.deepEqual(
    rows.map((r) => [r.statementId, r.totalDueByIntegrator]),
    [[statement.statementId, statement.summary.totalDueByIntegrator]],
  );
  const shown = await showStatement(deps, PIAID, statement.statementId);
  assert.equal(shown.exitCode, 0);
  const text = shown.lines.join("\n");
  assert.match(text, new RegExp(`quote memo line memo-${statement.statementId}`));
  assert.match(text, /reconciliation: EXACT {2}3 events, 3 matched, 0 discrepancies/);
  // 40 + 2.5 - 10 = 32.5 INR of charges; 1 % fees paid by Google.
  assert.match(text, /ours: {3}charges 32\.50 \+ Google's fees -0\.325 = 32\.175/);

  const accepted = await acceptStatementNow(deps, PIAID, statement.statementId, { by: "alice" });
  assert.equal(accepted.exitCode, 0, accepted.lines.join());
  const after = (await statementRecord(stack, statement.statementId))!;
  assert.equal(after.state, "ACCEPTED");
  assert.equal(after.acceptance.by, "alice");
  assert.equal(after.acceptance.override, undefined);
  assert.deepEqual(stack.google!.remittance.accepted, [statement.statementId]);
});

test("a statement that does not reconcile is accepted only with an override and a reason, both recorded", async () => {
  const { statement } = await issueStatement(stack, {
    ...period,
    ...seen,
    lie: { changeCaptureAmount: { index: 0, by: -1n } },
  });
  await settled(stack, statement.statementId, ["DISCREPANCIES"]);
  const shown = await showStatement(deps, PIAID, statement.statementId);
  assert.match(
    shown.lines.join("\n"),
    new RegExp(
      `MISMATCH +CAPTURE requestId ${c1} \\(ours ${seen.captures[0]!.paymentIntegratorId}\\) {2}Google 39\\.999999 {2}ours 40\\.00 {2}amounts differ`,
    ),
  );

  const plain = await acceptStatementNow(deps, PIAID, statement.statementId, { by: "bob" });
  assert.equal(plain.exitCode, 1);
  assert.match(plain.lines[0]!, /not reconciled exactly: accepting needs an override with a reason/);
  const noReason = await acceptStatementNow(deps, PIAID, statement.statementId, {
    by: "bob",
    override: true,
    reason: " ",
  });
  assert.equal(noReason.exitCode, 1);
  assert.match(noReason.lines[0]!, /--override needs --reason/);
  assert.equal((await statementRecord(stack, statement.statementId))!.state, "DISCREPANCIES");
  assert.equal(stack.google!.remittance.accepted.includes(statement.statementId), false);

  const forced = await acceptStatementNow(deps, PIAID, statement.statementId, {
    by: "bob",
    override: true,
    reason: "1 micro rounding, agreed with Google case 42",
  });
  assert.equal(forced.exitCode, 0);
  const after = (await statementRecord(stack, statement.statementId))!;
  assert.equal(after.state, "ACCEPTED");
  assert.deepEqual(after.acceptance.override, {
    by: "bob",
    reason: "1 micro rounding, agreed with Google case 42",
  });

  const csv = await exportStatement(deps, PIAID, statement.statementId, "csv");
  assert.equal(csv.lines.at(-2), "type,kind,requestId,ourId,googleCharge,ourCharge,why");
  assert.equal(
    csv.lines.at(-1),
    `MISMATCH,CAPTURE,${c1},${seen.captures[0]!.paymentIntegratorId},39999999,40000000,amounts differ`,
  );
  const json = await exportStatement(deps, PIAID, statement.statementId, "json");
  assert.equal(
    (json.json as { reconciliation: { discrepancyCount: number } }).reconciliation.discrepancyCount,
    1,
  );
});

test("statements reconcile after a late capture arrived turns Google-only into matched", async () => {
  // Google's statement names a capture that reaches us only afterwards.
  const lateId = requestId("late");
  const late = { requestId: lateId, paymentIntegratorId: "to-be-known", amount: 3n * INR };
  const { statement } = await issueStatement(stack, {
    ...period,
    captures: [...seen.captures, late],
    refunds: seen.refunds,
  });
  const first = await settled(stack, statement.statementId, ["DISCREPANCIES"]);
  assert.deepEqual(
    first.reconciliation!.discrepancies.map((d) => [d.type, d.requestId]),
    [["GOOGLE_ONLY", lateId]],
  );
  // The capture arrives; Google's event carries the id we then answered.
  const { token: t2 } = await customer(stack, "ops-late");
  const { capture: post, captureRequest } = await import("../support/google.ts");
  const reply = await post(
    stack.url,
    captureRequest({ amount: String(3n * INR), googlePaymentToken: t2 }, lateId),
  );
  assert.equal(reply.body.result, "SUCCESS");
  statement.captureEvents.at(-1)!.paymentIntegratorEventId = String(
    reply.body.paymentIntegratorTransactionId,
  );
  const again = await reconcileStatementNow(deps, PIAID, statement.statementId);
  assert.equal(again.exitCode, 0);
  const record = (await statementRecord(stack, statement.statementId))!;
  // Now every event matches and Google's total (which always had the late capture) is ours: exact.
  assert.equal(
    record.reconciliation!.discrepancyCount,
    0,
    JSON.stringify(record.reconciliation!.discrepancies),
  );
  assert.equal(record.state, "RECONCILED", "operator mode: reconciled, waiting for an operator");
});

test("amounts are shown from micros without floats", () => {
  assert.equal(formatAmount("728000000"), "728.00");
  assert.equal(formatAmount(-325000n), "-0.325");
  assert.equal(formatAmount("9223372036854775807"), "9223372036854.775807");
});
