import assert from "node:assert/strict";
import { test } from "node:test";
import type { CallGoogle, GoogleCallResult } from "../../shared/adapters/google/google-client.ts";
import { fetchAllEvents, type ReconcilerDeps } from "../../shared/domain/reconciler.ts";
import { billingWindow, startOfDay } from "../../shared/domain/reconciliation.ts";
import type { StatementRecord } from "../../shared/domain/statement-service.ts";
import { parseDetailsPage } from "../../shared/protocol/remittance.ts";

test("a billing period is whole local days, DST days included", () => {
  // New York: 2026-03-08 has 23 hours, 2026-11-01 has 25.
  assert.equal(startOfDay("2026-03-08", "America/New_York"), Date.parse("2026-03-08T05:00:00Z"));
  assert.equal(startOfDay("2026-03-09", "America/New_York"), Date.parse("2026-03-09T04:00:00Z"));
  const short = billingWindow(
    String(Date.parse("2026-03-08T12:00:00Z")),
    String(Date.parse("2026-03-08T20:00:00Z")),
    "America/New_York",
  );
  assert.equal(short.toMs - short.fromMs, 23 * 3_600_000);
  const long = billingWindow(
    String(Date.parse("2026-11-01T12:00:00Z")),
    String(Date.parse("2026-11-01T12:00:00Z")),
    "America/New_York",
  );
  assert.equal(long.toMs - long.fromMs, 25 * 3_600_000);
  // Kolkata: 23:59:59.999 local on the 5th is 18:29:59.999 UTC; the period of the 5th ends one ms later.
  const day = billingWindow(
    String(Date.parse("2026-05-05T00:00:00+05:30")),
    String(Date.parse("2026-05-05T23:59:59.999+05:30")),
    "Asia/Kolkata",
  );
  assert.deepEqual(day, {
    fromMs: Date.parse("2026-05-04T18:30:00Z"),
    toMs: Date.parse("2026-05-05T18:30:00Z"),
  });
});

test("details pages are read leniently: numbers as strings, unknown members ignored, other names for members", () => {
  const parsed = parseDetailsPage({
    responseHeader: { responseTimestamp: "1" },
    eventOffset: "0",
    totalEvents: 1,
    somethingNew: { x: 1 },
    refundEvents: [{ requestId: "r-1", paymentIntegratorTransactionId: "ours", charge: "-5", extra: true }],
  });
  assert.ok("page" in parsed);
  assert.deepEqual(parsed.page.events, [
    {
      kind: "REFUND",
      eventRequestId: "r-1",
      paymentIntegratorEventId: "ours",
      eventCharge: -5n,
      eventFee: 0n,
    },
  ]);
  assert.deepEqual(
    parseDetailsPage({
      responseHeader: { responseTimestamp: "1" },
      eventOffset: 0,
      totalEvents: 1,
      captureEvents: [{ eventRequestId: "a", eventCharge: 1.5 }],
    }),
    {
      refused: "page's captureEvents[0].eventCharge is not int64 micros",
    },
  );
});

const statement = {
  key: "P#s",
  paymentIntegratorAccountId: "P",
  statementId: "s",
  summary: { currencyCode: "INR", totalDueByIntegrator: 1n },
} as unknown as StatementRecord;

function deps(answers: GoogleCallResult[]): ReconcilerDeps & { calls: number } {
  const d = {
    calls: 0,
    callGoogle: (async () => {
      d.calls += 1;
      return answers.shift() ?? { ok: false, reason: "HTTP 500", configuration: false, refused: false };
    }) as CallGoogle,
    now: () => 1,
    newRequestId: () => "rsd-1",
    backoffMs: () => 0,
  } as unknown as ReconcilerDeps & { calls: number };
  return d;
}
const page = {
  ok: true as const,
  body: {
    responseHeader: { responseTimestamp: "1" },
    eventOffset: 0,
    totalEvents: 1,
    captureEvents: [{ eventRequestId: "c-1", eventCharge: "1" }],
  },
};
const http500 = { ok: false as const, reason: "HTTP 500", configuration: false, refused: false };

test("a transient failure is tried again within 3 tries per page, then given up, never more", async () => {
  const recovering = deps([http500, http500, page]);
  assert.equal((await fetchAllEvents(recovering, statement)).events.length, 1);
  assert.equal(recovering.calls, 3);
  const down = deps([]);
  await assert.rejects(
    fetchAllEvents(down, statement),
    /remittanceStatementDetails at offset 0: HTTP 500 \(3 tries\)/,
  );
  assert.equal(down.calls, 3);
  const refused = deps([
    { ok: false, reason: "answer not verifiable: x", configuration: false, refused: true },
  ]);
  await assert.rejects(fetchAllEvents(refused, statement), /answer not verifiable/);
  assert.equal(refused.calls, 1, "a refused page is not asked again in the same run");
});
