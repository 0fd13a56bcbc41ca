/** Where a capture stands, in one line, for `ops captures show/list`: each case of the lifecycle. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { explain, timeline } from "../../infra/ops/explain.ts";
import type { CaptureRecord, NotificationRecord } from "../../shared/domain/capture-record.ts";

const T0 = Date.parse("2026-11-30T03:00:00Z");
const schedule = {
  maxReceiveCount: 8,
  backoffBaseSeconds: 10,
  backoffCapSeconds: 900,
  sweepEverySeconds: 60,
  enqueueGraceSeconds: 30,
};
const base: CaptureRecord = {
  key: "P#c-1",
  paymentIntegratorAccountId: "P",
  requestId: "c-1",
  method: "asynchronousCapture",
  fingerprint: "f",
  paymentIntegratorTransactionId: "t",
  response: { result: "ACKNOWLEDGED" },
  state: "PENDING",
  amount: 1n,
  currencyCode: "INR",
  transactionDescription: "",
  accountId: "a",
  instrumentKind: "VPA",
  instrumentRef: "r",
  createdAtMs: T0,
  deadlineMs: T0 + 600_000,
};
const owed = (n: Partial<NotificationRecord>): CaptureRecord => ({
  ...base,
  state: "DECIDED",
  outcome: { kind: "APPROVED" },
  notification: {
    requestId: "crn-1",
    captureResult: { captureResultCode: "SUCCESS" },
    state: "OWED",
    enqueued: true,
    decidedAtMs: T0 + 60_000,
    attempts: [],
    ...n,
  } as NotificationRecord,
});
const fails = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ atMs: T0 + 61_000 + i * 1000, outcome: "HTTP 500" }));

test("PENDING before and after its deadline", () => {
  assert.equal(
    explain(base, T0 + 60_000, schedule),
    "waiting for the outcome from the integrator's systems; if none comes it expires at 2026-11-30T03:10:00.000Z (in 9m) and Google is told CAPTURE_REQUEST_EXPIRED",
  );
  assert.match(
    explain(base, T0 + 660_000, schedule),
    /^past its deadline \(60s ago\) and not yet expired: the sweeper \(every 60 s\)/,
  );
  assert.deepEqual(timeline(base), { createdAtMs: T0, deadlineMs: T0 + 600_000 });
});

test("decided at once: nothing owed", () => {
  const sync = {
    ...base,
    method: "capture" as const,
    state: "DECIDED" as const,
    response: { result: "SUCCESS" },
  };
  assert.equal(explain(sync, T0, schedule), "final when answered (SUCCESS); no notification is owed");
  assert.deepEqual(timeline(sync), { createdAtMs: T0, deadlineMs: T0 + 600_000, decidedAtMs: T0 });
});

test("owed and not queued: within the grace, then the sweeper's to queue", () => {
  assert.match(
    explain(owed({ enqueued: false }), T0 + 70_000, schedule),
    /^outcome recorded 10s ago; its writer is putting/,
  );
  assert.match(
    explain(owed({ enqueued: false }), T0 + 200_000, schedule),
    /^owed but never queued: the sweeper should have queued it at 2026-11-30T03:01:30.000Z/,
  );
});

test("a failed try: when the next comes, and how many are left before the DLQ", () => {
  assert.equal(
    explain(owed({ attempts: fails(3) }), T0 + 64_000, schedule),
    "try 3 failed (HTTP 500) at 2026-11-30T03:01:03.000Z; next try between 2026-11-30T03:01:23.000Z and 2026-11-30T03:01:43.000Z (in 19s), 5 left before the DLQ",
  );
  assert.match(
    explain(owed({ attempts: fails(8) }), T0 + 600_000, schedule),
    /^try 8 failed \(HTTP 500\) .*the last of 8 for its message: it is in the DLQ/,
  );
  assert.match(
    explain(owed({ attempts: fails(9) }), T0 + 600_000, schedule),
    /^try 9 failed .*; next try between .*, 7 left before the DLQ$/,
    "a replayed message starts a new round",
  );
});

test("delivered", () => {
  const done = owed({
    state: "NOTIFIED",
    attempts: [...fails(2), { atMs: T0 + 90_000, outcome: "SUCCESS" }],
  });
  assert.equal(
    explain(done, T0 + 100_000, schedule),
    "delivered: Google answered SUCCESS at 2026-11-30T03:01:30.000Z (3 tries); nothing owed",
  );
  assert.equal(timeline(done).notifiedAtMs, T0 + 90_000);
});
