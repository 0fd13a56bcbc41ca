import assert from "node:assert/strict";
import { test } from "node:test";
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import type { Account } from "../../shared/domain/ledger.ts";
import { capturedMoney, checkRefundable, refundDeclineOf } from "../../shared/domain/refund-service.ts";
import { parseRefundRequest } from "../../shared/protocol/refund.ts";

const capture = (over: Partial<CaptureRecord> = {}): CaptureRecord => ({
  key: "P#c1",
  paymentIntegratorAccountId: "P",
  requestId: "c1",
  method: "capture",
  fingerprint: "f",
  paymentIntegratorTransactionId: "t",
  response: { result: "SUCCESS" },
  state: "DECIDED",
  amount: 10_000_000n,
  currencyCode: "INR",
  transactionDescription: "",
  accountId: "a",
  instrumentKind: "TOKEN",
  instrumentRef: "TOKEN#x",
  createdAtMs: 0,
  ...over,
});

const request = (refundAmount: string, currencyCode = "INR") =>
  parseRefundRequest({
    requestHeader: {
      protocolVersion: { major: 1, minor: 0, revision: 0 },
      requestId: "r1",
      requestTimestamp: "1",
    },
    paymentIntegratorAccountId: "P",
    captureRequestId: "c1",
    currencyCode,
    refundAmount,
  });

const code = (f: () => unknown) => {
  try {
    f();
    return "OK";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};

test("what moved money: a SUCCESS capture, an asynchronous capture whose outcome was SUCCESS", () => {
  assert.equal(capturedMoney(capture()), true);
  assert.equal(capturedMoney(capture({ response: { result: "INSUFFICIENT_FUNDS" } })), false);
  const async = { method: "asynchronousCapture" as const, response: { result: "ACKNOWLEDGED" } };
  assert.equal(capturedMoney(capture({ ...async, state: "PENDING" })), false);
  const decided = (captureResultCode: string) =>
    capture({
      ...async,
      notification: {
        requestId: "n",
        captureResult: { captureResultCode } as never,
        state: "OWED",
        enqueued: false,
        decidedAtMs: 0,
        attempts: [],
      },
    });
  assert.equal(capturedMoney(decided("SUCCESS")), true);
  assert.equal(capturedMoney(decided("CAPTURE_REQUEST_EXPIRED")), false);
  assert.equal(capturedMoney(decided("INSUFFICIENT_FUNDS")), false);
});

test("refundable: up to what remains, in the capture's currency; an unknown capture is INVALID_IDENTIFIER", () => {
  assert.equal(
    code(() => checkRefundable(request("10000000"), undefined)),
    "INVALID_IDENTIFIER",
  );
  assert.equal(
    code(() => checkRefundable(request("10000000"), capture())),
    "OK",
  );
  assert.equal(
    code(() => checkRefundable(request("10000001"), capture())),
    "PRECONDITION_VIOLATION",
  );
  assert.equal(
    code(() => checkRefundable(request("4000000"), capture({ refundedAmount: 6_000_000n }))),
    "OK",
  );
  assert.equal(
    code(() => checkRefundable(request("4000001"), capture({ refundedAmount: 6_000_000n }))),
    "PRECONDITION_VIOLATION",
  );
  assert.equal(
    code(() => checkRefundable(request("1", "USD"), capture())),
    "INVALID_FIELD_VALUE",
  );
  assert.equal(
    code(() => checkRefundable(request("1"), capture({ response: { result: "RISK_DECLINED" } }))),
    "PRECONDITION_VIOLATION",
  );
});

test("an account receives a refund only while ACTIVE; every other status has its RefundResultCode", () => {
  const account = (status: Account["status"]): Account => ({
    accountId: "a",
    status,
    fundingSource: "NONE",
    currencies: {},
    risk: {},
    configVersion: 1,
  });
  assert.equal(refundDeclineOf(account("ACTIVE")), undefined, "funding source does not matter for a credit");
  assert.deepEqual(refundDeclineOf(account("CLOSED")), {
    result: "ACCOUNT_CLOSED",
    rawCode: "ACCOUNT_CLOSED",
  });
  assert.deepEqual(refundDeclineOf(account("ON_HOLD")), {
    result: "ACCOUNT_ON_HOLD",
    rawCode: "ACCOUNT_ON_HOLD",
  });
  assert.equal(refundDeclineOf(account("CLOSED_FRAUD"))?.result, "ACCOUNT_CLOSED_FRAUD");
  assert.equal(
    refundDeclineOf(account("CLOSED_ACCOUNT_TAKEN_OVER"))?.result,
    "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  );
});
