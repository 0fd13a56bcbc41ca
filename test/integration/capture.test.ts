import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import type { LocalStack } from "../../infra/local/stack.ts";
import { capture, captureRequest, requestId, withoutHeader } from "../support/google.ts";
import { balance, balances, captureRecords } from "../support/ledger.ts";
import { capturedLogs, parsedLogs } from "../support/log-capture.ts";
import { leaks, UNKNOWN_TOKEN, WRONG_OTP } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";

const INR = 1_000_000n;
const stack: LocalStack = await startTestStack(import.meta.filename);

/** Runs one capture and returns the reply with what left the account, all currencies together. */
async function captureAndMeasure(accountId: string, overrides: Record<string, unknown>) {
  const total = async () => Object.values(await balances(stack, accountId)).reduce((a, b) => a + b, 0n);
  const before = await total();
  const reply = await capture(stack.url, captureRequest(overrides));
  return { ...reply, debited: before - (await total()) };
}

describe("capture: every result code from the ledger state that means it (demo fixture)", () => {
  const declines: [string, string, Record<string, unknown>, Record<string, unknown>?][] = [
    [
      "acct-demo-main",
      "CHARGE_EXCEEDS_TRANSACTION_LIMIT",
      { amount: String(150_000n * INR) },
      { transactionLimit: String(100_000n * INR) },
    ],
    ["acct-demo-main", "CHARGE_UNDER_LIMIT", { amount: "500000" }],
    ["acct-demo-main", "RISK_DECLINED", { amount: String(95_000n * INR) }],
    [
      "acct-demo-daily-limit",
      "CHARGE_EXCEEDS_DAILY_LIMIT",
      { googlePaymentToken: "gpt-demo-daily-limit", amount: String(1_500n * INR) },
    ],
    [
      "acct-demo-monthly-limit",
      "CHARGE_EXCEEDS_MONTHLY_LIMIT",
      { googlePaymentToken: "gpt-demo-monthly-limit", amount: String(1_500n * INR) },
    ],
    [
      "acct-demo-monthly-count",
      "CHARGE_EXCEEDS_MONTHLY_LIMIT",
      { googlePaymentToken: "gpt-demo-monthly-count" },
    ],
    [
      "acct-demo-low-balance",
      "INSUFFICIENT_FUNDS",
      { googlePaymentToken: "gpt-demo-low-balance" },
      { currentBalance: String(100n * INR) },
    ],
    ["acct-demo-usd-only", "ACCOUNT_DOES_NOT_SUPPORT_CURRENCY", { googlePaymentToken: "gpt-demo-usd-only" }],
    ["acct-demo-closed", "ACCOUNT_CLOSED", { googlePaymentToken: "gpt-demo-closed" }],
    [
      "acct-demo-taken-over",
      "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
      { googlePaymentToken: "gpt-demo-taken-over" },
    ],
    ["acct-demo-on-hold", "ACCOUNT_ON_HOLD", { googlePaymentToken: "gpt-demo-on-hold" }],
    ["acct-demo-fraud", "ACCOUNT_CLOSED_FRAUD", { googlePaymentToken: "gpt-demo-fraud" }],
    [
      "acct-demo-main",
      "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER",
      { googlePaymentToken: "gpt-demo-invalidated" },
    ],
    ["acct-demo-main", "TOKEN_REFRESH_REQUIRED", { googlePaymentToken: "gpt-demo-refresh" }],
    [
      "acct-demo-main",
      "OTP_NOT_MATCHED",
      { otpVerification: { sendOtpRequestId: "otp-demo-fresh", otp: WRONG_OTP } },
    ],
    [
      "acct-demo-main",
      "OTP_ALREADY_USED",
      { otpVerification: { sendOtpRequestId: "otp-demo-used", otp: "771205" } },
    ],
    [
      "acct-demo-no-funding",
      "NO_GOOD_FUNDING_SOURCE_AVAILABLE",
      { googlePaymentToken: "gpt-demo-no-funding" },
    ],
    ["acct-demo-funding-down", "FUNDING_SOURCE_UNAVAILABLE", { googlePaymentToken: "gpt-demo-funding-down" }],
    [
      "acct-demo-main",
      "MANDATE_NOT_ACTIVE",
      { googlePaymentToken: undefined, mandateDetails: { mandateId: "mandate-demo-inactive" } },
    ],
    [
      "acct-demo-main",
      "UPCOMING_TRANSACTION_NOTIFICATION_EXPIRED",
      {
        googlePaymentToken: undefined,
        mandateWithNotificationDetails: {
          mandateId: "mandate-demo-active",
          upcomingTransactionNotificationId: "utn-demo-expired",
        },
      },
    ],
  ];

  for (const [accountId, code, overrides, extra] of declines) {
    test(`${code} (${accountId}): 200, rawResult, nothing debited`, async () => {
      const reply = await captureAndMeasure(accountId, overrides);
      assert.equal(reply.status, 200);
      const body = withoutHeader(reply.body);
      assert.match(String(body.paymentIntegratorTransactionId), /^[0-9a-z]{9}[A-Za-z0-9_-]{12}$/);
      assert.deepEqual(body, {
        paymentIntegratorTransactionId: body.paymentIntegratorTransactionId,
        result: code,
        rawResult: {
          scope: "LEDGER",
          rawCode: body.rawResult && (body.rawResult as { rawCode: string }).rawCode,
        },
        ...extra,
      });
      assert.ok((body.rawResult as { rawCode: string }).rawCode.length > 0);
      assert.equal(reply.debited, 0n);
    });
  }

  test("SUCCESS with a token debits exactly the amount", async () => {
    const reply = await captureAndMeasure("acct-demo-main", { amount: "728000000" });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.result, "SUCCESS");
    assert.equal(reply.body.rawResult, undefined);
    assert.equal(reply.debited, 728_000_000n);
  });

  test("SUCCESS with a mandate, a valid upcoming-transaction notification, an OTP and an authentication", async () => {
    for (const overrides of [
      { googlePaymentToken: undefined, mandateDetails: { mandateId: "mandate-demo-active" } },
      {
        googlePaymentToken: undefined,
        mandateWithNotificationDetails: {
          mandateId: "mandate-demo-active",
          upcomingTransactionNotificationId: "utn-demo-valid",
        },
      },
      { otpVerification: { sendOtpRequestId: "otp-demo-fresh", otp: "482913" } },
      { authenticationRequestId: "auth-demo-main" },
    ]) {
      const reply = await captureAndMeasure("acct-demo-main", { ...overrides, amount: "1000000" });
      assert.deepEqual(
        [reply.status, reply.body.result, reply.debited],
        [200, "SUCCESS", 1_000_000n],
        JSON.stringify(overrides),
      );
    }
    // The OTP is now spent: the same code again is OTP_ALREADY_USED.
    const again = await captureAndMeasure("acct-demo-main", {
      otpVerification: { sendOtpRequestId: "otp-demo-fresh", otp: "482913" },
    });
    assert.deepEqual([again.body.result, again.debited], ["OTP_ALREADY_USED", 0n]);
  });

  test("the daily limit counts earlier successes of the day", async () => {
    const token = { googlePaymentToken: "gpt-demo-daily-limit" };
    const first = await captureAndMeasure("acct-demo-daily-limit", { ...token, amount: String(600n * INR) });
    const second = await captureAndMeasure("acct-demo-daily-limit", { ...token, amount: String(400n * INR) });
    const third = await captureAndMeasure("acct-demo-daily-limit", { ...token, amount: "1" });
    assert.deepEqual(
      [first.body.result, second.body.result, third.body.result],
      ["SUCCESS", "SUCCESS", "CHARGE_EXCEEDS_DAILY_LIMIT"],
    );
    assert.deepEqual([first.debited, second.debited, third.debited], [600n * INR, 400n * INR, 0n]);
  });

  test("a SUCCESS is recorded with amount, currency, account, instrument kind and the response", async () => {
    const id = requestId("record");
    const reply = await capture(stack.url, captureRequest({ amount: "2000000" }, id));
    const record = (await captureRecords(stack.dynamodb, stack.config.tables.captures)).find(
      (r) => r.requestId?.S === id,
    );
    assert.ok(record);
    assert.equal(record.pk?.S, `InvisiCashIN_INR#${id}`);
    assert.equal(record.amount?.N, "2000000");
    assert.equal(record.currencyCode?.S, "INR");
    assert.equal(record.accountId?.S, "acct-demo-main");
    assert.equal(record.instrumentKind?.S, "TOKEN");
    assert.equal(record.paymentIntegratorTransactionId?.S, reply.body.paymentIntegratorTransactionId);
    assert.deepEqual(JSON.parse(record.response!.S!), withoutHeader(reply.body));
    assert.ok(!JSON.stringify(record).includes("gpt-demo-success"), "the raw token is not stored");
  });
});

describe("capture: idempotency", () => {
  test("a retry with a new requestTimestamp replays the stored answer and moves no money", async () => {
    const id = requestId("retry");
    const first = await captureAndMeasure("acct-demo-main", {
      requestHeader: header(id, Date.now() - 5_000),
    });
    const retry = await captureAndMeasure("acct-demo-main", { requestHeader: header(id, Date.now()) });
    assert.equal(first.debited, 728_000_000n);
    assert.equal(retry.debited, 0n);
    assert.equal(retry.status, 200);
    assert.deepEqual(withoutHeader(retry.body), withoutHeader(first.body));
    assert.ok(
      Number((retry.body.responseHeader as { responseTimestamp: string }).responseTimestamp) >=
        Number((first.body.responseHeader as { responseTimestamp: string }).responseTimestamp),
    );
  });

  test("a declined answer is replayed too, even after the ledger changed", async () => {
    const id = requestId("decline-retry");
    const overrides = { googlePaymentToken: "gpt-demo-low-balance", amount: String(150n * INR) };
    const first = await capture(stack.url, captureRequest(overrides, id));
    const retry = await capture(stack.url, captureRequest(overrides, id));
    assert.equal(first.body.result, "INSUFFICIENT_FUNDS");
    assert.deepEqual(withoutHeader(retry.body), withoutHeader(first.body));
  });

  test("the same key with a different request → 412 IDEMPOTENCY_VIOLATION, nothing moves", async () => {
    const id = requestId("violation");
    await capture(stack.url, captureRequest({ amount: "1000000" }, id));
    const conflicting = await captureAndMeasure("acct-demo-main", {
      requestHeader: header(id, Date.now()),
      amount: "2000000",
    });
    assert.equal(conflicting.status, 412);
    assert.equal(conflicting.body.errorResponseCode, "IDEMPOTENCY_VIOLATION");
    assert.equal(conflicting.debited, 0n);
  });

  test("an error is never stored: the same requestId, corrected, is evaluated afresh", async () => {
    const id = requestId("fixed");
    const bad = await capture(stack.url, captureRequest({ amount: "-5" }, id));
    assert.equal(bad.status, 400);
    const good = await captureAndMeasure("acct-demo-main", {
      requestHeader: header(id, Date.now()),
      amount: "3000000",
    });
    assert.deepEqual([good.status, good.body.result, good.debited], [200, "SUCCESS", 3_000_000n]);
  });
});

describe("capture: errors have the protocol's code and status, and change nothing", () => {
  const cases: [string, unknown, number, string, string?][] = [
    [
      "missing amount",
      captureRequest({ amount: undefined }),
      400,
      "MISSING_REQUIRED_FIELD",
      "missing amount",
    ],
    ["bad amount", captureRequest({ amount: "12.5" }), 400, "INVALID_FIELD_VALUE"],
    [
      "two fop members",
      captureRequest({ mandateDetails: { mandateId: "mandate-demo-active" } }),
      400,
      "INVALID_FIELD_VALUE",
    ],
    [
      "unknown token",
      captureRequest({ googlePaymentToken: UNKNOWN_TOKEN }),
      404,
      "INVALID_IDENTIFIER",
      "unknown googlePaymentToken",
    ],
    [
      "unknown mandate",
      captureRequest({ googlePaymentToken: undefined, mandateDetails: { mandateId: "mandate-nope" } }),
      404,
      "INVALID_IDENTIFIER",
      "unknown mandateId",
    ],
    [
      "unknown PIAID",
      captureRequest({ paymentIntegratorAccountId: "Nobody_INR" }),
      404,
      "INVALID_IDENTIFIER",
      "unknown paymentIntegratorAccountId",
    ],
    ["currency not the contract's", captureRequest({ currencyCode: "USD" }), 400, "INVALID_FIELD_VALUE"],
    [
      "major version 2",
      captureRequest({
        requestHeader: {
          ...header(requestId(), Date.now()),
          protocolVersion: { major: 2, minor: 0, revision: 0 },
        },
      }),
      400,
      "INVALID_API_VERSION",
    ],
    [
      "stale timestamp",
      captureRequest({ requestHeader: header(requestId(), Date.now() - 120_000) }),
      400,
      "REQUEST_TIMESTAMP_OUT_OF_RANGE",
    ],
    ["not JSON", "{this is not json", 400, "INVALID_DECRYPTED_REQUEST"],
    ["a JSON array", "[1,2]", 400, "INVALID_DECRYPTED_REQUEST"],
    ["empty body", "", 400, "INVALID_DECRYPTED_REQUEST"],
  ];
  for (const [name, body, status, code, description] of cases) {
    test(`${name} → ${status} ${code}`, async () => {
      const before = await balance(stack, "acct-demo-main");
      const recordsBefore = (await captureRecords(stack.dynamodb, stack.config.tables.captures)).length;
      const reply = await capture(stack.url, body);
      assert.equal(reply.status, status);
      assert.equal(reply.body.errorResponseCode, code);
      if (description) assert.equal(reply.body.errorDescription, description);
      assert.match(String(reply.body.paymentIntegratorErrorIdentifier), /^[0-9a-f-]{36}$/);
      assert.match(
        String((reply.body.responseHeader as { responseTimestamp: string }).responseTimestamp),
        /^\d{13}$/,
      );
      // Exactly the ErrorResponse's members: no stack, no cause, no echo of the request.
      assert.deepEqual(Object.keys(reply.body).sort(), [
        "errorDescription",
        "errorResponseCode",
        "paymentIntegratorErrorIdentifier",
        "responseHeader",
      ]);
      assert.equal(await balance(stack, "acct-demo-main"), before);
      assert.equal(
        (await captureRecords(stack.dynamodb, stack.config.tables.captures)).length,
        recordsBefore,
      );
      const line = parsedLogs().find(
        (l) => l.paymentIntegratorErrorIdentifier === reply.body.paymentIntegratorErrorIdentifier,
      );
      assert.equal(line?.errorResponseCode, code, "the error identifier leads to its log line");
    });
  }
});

describe("capture: logs", () => {
  test("one structured line per request with method, PIAID, requestId, result and duration", async () => {
    const id = requestId("logline");
    await capture(stack.url, captureRequest({ amount: "1000000" }, id));
    const lines = parsedLogs().filter((l) => l.requestId === id);
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line?.method, "capture");
    assert.equal(line?.paymentIntegratorAccountId, "InvisiCashIN_INR");
    assert.equal(line?.result, "SUCCESS");
    assert.equal(line?.status, 200);
    assert.equal(typeof line?.durationMs, "number");
  });

  test("no token or OTP appears in this file's log lines or error bodies", () => {
    assert.ok(capturedLogs.length > 40, `captured ${capturedLogs.length} lines`);
    assert.deepEqual(leaks(capturedLogs), []);
  });
});

describe("capture: an unexpected fault", () => {
  // Runs last in this file: it breaks the stack's storage on purpose.
  test("is a 500 whose paymentIntegratorErrorIdentifier leads to the log line with the cause", async () => {
    await stack.dynamodb.send(new DeleteTableCommand({ TableName: stack.config.tables.captures }));
    const reply = await capture(stack.url, captureRequest());
    assert.equal(reply.status, 500);
    assert.equal(reply.body.errorResponseCode, undefined);
    assert.deepEqual(Object.keys(reply.body).sort(), [
      "errorDescription",
      "paymentIntegratorErrorIdentifier",
      "responseHeader",
    ]);
    assert.ok(!reply.text.includes("ResourceNotFound"), "the cause stays in the log");
    const id = reply.body.paymentIntegratorErrorIdentifier;
    const errorLine = parsedLogs().find(
      (l) => l.paymentIntegratorErrorIdentifier === id && l.level === "ERROR",
    );
    assert.ok(errorLine, "an ERROR line carries the identifier");
    assert.match(JSON.stringify(errorLine.error), /ResourceNotFound|non-existent table/);
  });
});

function header(id: string, timestamp: number) {
  return {
    protocolVersion: { major: 1, minor: 0, revision: 0 },
    requestId: id,
    requestTimestamp: String(timestamp),
  };
}
