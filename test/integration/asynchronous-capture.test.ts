import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LocalStack } from "../../infra/local/stack.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  PIAID,
  reportOutcome,
  requestId,
  until,
  withoutHeader,
} from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { capturedLogs } from "../support/log-capture.ts";
import { leaks } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";

const INR = 1_000_000n;
const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
/** A second stack whose captures expire the moment they are acknowledged (deadline 0 s). */
const expiring: LocalStack = await startTestStack(import.meta.filename, {
  sweepIntervalMs: 0,
  captureDeadlineSeconds: 0,
});

const received = (s: LocalStack, captureRequestId: string) =>
  s.google!.received.filter((r) => r.request.captureRequestId === captureRequestId);

async function acknowledged(s: LocalStack, overrides: Record<string, unknown> = {}) {
  const id = requestId("async");
  const reply = await asynchronousCapture(s.url, asynchronousCaptureRequest(overrides, id));
  assert.equal(reply.status, 200);
  assert.equal(reply.body.result, "ACKNOWLEDGED", JSON.stringify(reply.body));
  return { id, reply };
}

describe("asynchronousCapture", () => {
  test("ack → approval → Google receives exactly the stored result and fields; the ledger moved once", async () => {
    const before = await balance(stack, "acct-demo-main");
    const { id, reply } = await acknowledged(stack, { amount: String(7n * INR) });
    assert.match(String(reply.body.paymentIntegratorTransactionId), /^[0-9a-z]{9}[A-Za-z0-9_-]{12}$/);
    assert.equal(await balance(stack, "acct-demo-main"), before, "no money moves at acknowledgement");

    const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
    assert.equal(outcome.status, 200);
    assert.deepEqual(outcome.body.captureResult, { captureResultCode: "SUCCESS" });
    assert.equal(await balance(stack, "acct-demo-main"), before - 7n * INR);

    await until("Google received the notification", () => received(stack, id).length === 1);
    const [notification] = received(stack, id);
    const record = await stack.deps.capture.store.get(`${PIAID}#${id}`);
    assert.deepEqual(notification!.request, {
      requestHeader: {
        protocolVersion: { major: 1, minor: 0, revision: 0 },
        requestId: record!.notification!.requestId,
        requestTimestamp: notification!.request.requestHeader.requestTimestamp,
      },
      paymentIntegratorAccountId: PIAID,
      captureRequestId: id,
      captureResult: { captureResultCode: "SUCCESS" },
      paymentIntegratorTransactionId: reply.body.paymentIntegratorTransactionId,
    });
    await until(
      "the record says NOTIFIED",
      async () => (await stack.deps.capture.store.get(`${PIAID}#${id}`))?.notification?.state === "NOTIFIED",
    );
    const notified = await stack.deps.capture.store.get(`${PIAID}#${id}`);
    assert.deepEqual(
      notified!.notification!.attempts.map((a) => a.outcome),
      ["SUCCESS"],
    );
  });

  test("with a token instead of a VPA", async () => {
    const { id } = await acknowledged(stack, {
      upiDetails: undefined,
      tokenizedInstrumentDetails: { googlePaymentToken: "gpt-demo-success" },
    });
    const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
    assert.deepEqual(outcome.body.captureResult, { captureResultCode: "SUCCESS" });
  });

  for (const [vpa, result] of [
    ["closed@demobank", "ACCOUNT_CLOSED"],
    ["onhold@demobank", "ACCOUNT_ON_HOLD"],
    ["fraud@demobank", "ACCOUNT_CLOSED_FRAUD"],
    ["takenover@demobank", "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER"],
  ] as const) {
    test(`${result} at once for ${vpa}; no notification follows, no outcome is accepted`, async () => {
      const id = requestId("async-decline");
      const reply = await asynchronousCapture(
        stack.url,
        asynchronousCaptureRequest({ upiDetails: { vpa } }, id),
      );
      assert.equal(reply.status, 200);
      assert.deepEqual(Object.keys(withoutHeader(reply.body)).sort(), [
        "paymentIntegratorTransactionId",
        "result",
      ]);
      assert.equal(reply.body.result, result);
      const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
      assert.deepEqual([outcome.status, outcome.body.error], [409, "ALREADY_DECIDED"]);
      assert.deepEqual(await stack.sweep(), { expired: 0, enqueued: 0 });
      assert.equal(stack.google!.attempts.filter((a) => a.request.captureRequestId === id).length, 0);
    });
  }

  test("errors: unknown VPA 404 naming its kind, bad VPA 400, both members 400, missing member 400", async () => {
    const cases: [Record<string, unknown>, number, string, string?][] = [
      [{ upiDetails: { vpa: "nobody@demobank" } }, 404, "INVALID_IDENTIFIER", "unknown upiDetails.vpa"],
      [{ upiDetails: { vpa: "not a vpa" } }, 400, "INVALID_FIELD_VALUE"],
      [
        { tokenizedInstrumentDetails: { googlePaymentToken: "gpt-demo-success" } },
        400,
        "INVALID_FIELD_VALUE",
      ],
      [{ upiDetails: undefined }, 400, "MISSING_REQUIRED_FIELD"],
    ];
    for (const [overrides, status, code, description] of cases) {
      const reply = await asynchronousCapture(stack.url, asynchronousCaptureRequest(overrides));
      assert.deepEqual(
        [reply.status, reply.body.errorResponseCode],
        [status, code],
        JSON.stringify(overrides),
      );
      if (description) assert.equal(reply.body.errorDescription, description);
      assert.ok(!reply.text.includes("nobody@demobank"), "the VPA is not echoed");
    }
  });

  test("a duplicate asynchronousCapture replays the acknowledgement; a different body with its requestId is 412", async () => {
    const id = requestId("async-dup");
    const first = await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount: "2000000" }, id));
    const again = await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount: "2000000" }, id));
    assert.deepEqual(withoutHeader(again.body), withoutHeader(first.body));
    const other = await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount: "3000000" }, id));
    assert.deepEqual([other.status, other.body.errorResponseCode], [412, "IDEMPOTENCY_VIOLATION"]);
    // The same requestId cannot be a synchronous capture too.
    const sync = await capture(stack.url, captureRequest({ amount: "2000000" }, id));
    assert.deepEqual([sync.status, sync.body.errorResponseCode], [412, "IDEMPOTENCY_VIOLATION"]);
  });
});

describe("recording an outcome", () => {
  test("the same outcome again gives the same answer and moves no more money; another is refused", async () => {
    const before = await balance(stack, "acct-demo-main");
    const { id } = await acknowledged(stack, { amount: String(3n * INR) });
    const first = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
    const again = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
    assert.equal(again.status, 200);
    assert.equal(again.body.repeated, true);
    assert.deepEqual(again.body.captureResult, first.body.captureResult);
    const conflicting = await reportOutcome(stack, {
      captureRequestId: id,
      outcome: "FAILED",
      captureResultCode: "INVALID_PIN",
      rawResult: { rawCode: "U16" },
    });
    assert.deepEqual([conflicting.status, conflicting.body.error], [409, "ALREADY_DECIDED"]);
    assert.equal(await balance(stack, "acct-demo-main"), before - 3n * INR);
    await until("one notification", () => received(stack, id).length === 1);
  });

  test("a failure reported by our systems is notified with its code and raw result, and moves no money", async () => {
    const before = await balance(stack, "acct-demo-main");
    const { id } = await acknowledged(stack);
    const outcome = await reportOutcome(stack, {
      captureRequestId: id,
      outcome: "FAILED",
      captureResultCode: "PIN_ENTRY_ATTEMPTS_EXHAUSTED",
      rawResult: { scope: "NPCI", rawCode: "Z6" },
    });
    assert.equal(outcome.status, 200);
    await until("notified", () => received(stack, id).length === 1);
    assert.deepEqual(received(stack, id)[0]!.request.captureResult, {
      captureResultCode: "PIN_ENTRY_ATTEMPTS_EXHAUSTED",
      rawResult: { scope: "NPCI", rawCode: "Z6" },
    });
    assert.equal(await balance(stack, "acct-demo-main"), before);
  });

  test("approval decided by the ledger rules: each decline carries its detail in the notification's words", async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [
        { upiDetails: { vpa: "lowbalance@demobank" } },
        {
          captureResultCode: "INSUFFICIENT_FUNDS",
          rawResult: { scope: "LEDGER", rawCode: "BALANCE_TOO_LOW" },
          currentBalance: String(100n * INR),
        },
      ],
      [
        { amount: String(150_000n * INR) },
        {
          captureResultCode: "CHARGE_EXCEEDS_TRANSACTION_LIMIT",
          rawResult: { scope: "LEDGER", rawCode: "OVER_TRANSACTION_MAX" },
          transactionMaxLimit: String(100_000n * INR),
        },
      ],
      [
        { amount: "500000" },
        {
          captureResultCode: "CHARGE_UNDER_TRANSACTION_LIMIT",
          rawResult: { scope: "LEDGER", rawCode: "UNDER_TRANSACTION_MIN" },
          transactionMinLimit: String(INR),
        },
      ],
      [
        { amount: String(95_000n * INR) },
        {
          captureResultCode: "SUSPECTED_FRAUD",
          rawResult: { scope: "LEDGER", rawCode: "RISK_AMOUNT_THRESHOLD" },
        },
      ],
    ];
    for (const [overrides, expected] of cases) {
      const { id } = await acknowledged(stack, overrides);
      const outcome = await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" });
      assert.deepEqual(outcome.body.captureResult, expected);
      await until(`notified ${expected.captureResultCode}`, () => received(stack, id).length === 1);
      assert.deepEqual(received(stack, id)[0]!.request.captureResult, expected);
    }
  });

  test("the internal route: IAM stand-in refuses without the token; bad bodies 400; unknown 404; synchronous 409", async () => {
    const { id } = await acknowledged(stack);
    assert.equal(
      (await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" }, "wrong")).status,
      403,
    );
    const invalid = await reportOutcome(stack, {
      captureRequestId: id,
      outcome: "FAILED",
      captureResultCode: "SUCCESS",
      rawResult: { rawCode: "x" },
    });
    assert.deepEqual([invalid.status, invalid.body.error], [400, "INVALID_OUTCOME"]);
    const unknown = await reportOutcome(stack, { captureRequestId: "no-such-capture", outcome: "APPROVED" });
    assert.deepEqual([unknown.status, unknown.body.error], [404, "UNKNOWN_CAPTURE"]);
    const syncId = requestId("sync");
    await capture(stack.url, captureRequest({ amount: "1000000" }, syncId));
    const sync = await reportOutcome(stack, { captureRequestId: syncId, outcome: "APPROVED" });
    assert.deepEqual([sync.status, sync.body.error], [409, "NOT_ASYNCHRONOUS"]);
  });
});

describe("expiry", () => {
  test("an approval after the deadline is refused and moves no money; Google is told CAPTURE_REQUEST_EXPIRED", async () => {
    const before = await balance(expiring, "acct-demo-main");
    const { id } = await acknowledged(expiring);
    const late = await reportOutcome(expiring, { captureRequestId: id, outcome: "APPROVED" });
    assert.deepEqual([late.status, late.body.error], [409, "CAPTURE_EXPIRED"]);
    assert.equal(await balance(expiring, "acct-demo-main"), before);
    await until("expiry notified", () => received(expiring, id).length === 1);
    assert.deepEqual(received(expiring, id)[0]!.request.captureResult, {
      captureResultCode: "CAPTURE_REQUEST_EXPIRED",
      rawResult: { scope: "LEDGER", rawCode: "DEADLINE_PASSED" },
    });
    const again = await reportOutcome(expiring, { captureRequestId: id, outcome: "APPROVED" });
    assert.deepEqual([again.status, again.body.error], [409, "CAPTURE_EXPIRED"]);
  });

  test("the sweeper expires PENDING captures past their deadline through the sparse index, once", async () => {
    const { id } = await acknowledged(expiring);
    const swept = await expiring.sweep();
    assert.ok(swept.expired >= 1, JSON.stringify(swept));
    await until("expiry notified", () => received(expiring, id).length === 1);
    assert.equal(
      received(expiring, id)[0]!.request.captureResult.captureResultCode,
      "CAPTURE_REQUEST_EXPIRED",
    );
    assert.deepEqual(await expiring.sweep(), { expired: 0, enqueued: 0 }, "nothing left for the sweeper");
  });
});

test("no VPA, token or OTP in any log line of this file", () => {
  assert.ok(capturedLogs.length > 20);
  assert.deepEqual(
    leaks(capturedLogs, [
      ...new Set(["customer@demobank", "lowbalance@demobank", "closed@demobank", "nobody@demobank"]),
    ]),
    [],
  );
  assert.deepEqual(leaks(capturedLogs), []);
});
