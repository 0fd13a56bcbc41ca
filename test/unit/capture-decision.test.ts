import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CaptureFacts, decideCapture, MAX_OTP_ATTEMPTS } from "../../shared/domain/capture-decision.ts";
import type { Account, Otp } from "../../shared/domain/ledger.ts";
import { otpDigest } from "../../shared/domain/secrets.ts";
import type { CaptureRequest } from "../../shared/protocol/capture.ts";
import { ProtocolError } from "../../shared/protocol/errors.ts";

const NOW = Date.parse("2026-11-23T12:00:00Z");
const INR = 1_000_000n;

const account = (over: Partial<Account> = {}): Account => ({
  accountId: "a1",
  status: "ACTIVE",
  fundingSource: "AVAILABLE",
  currencies: {
    INR: {
      balance: 1_000n * INR,
      limits: {
        transactionMax: 500n * INR,
        transactionMin: 1n * INR,
        dailyMax: 800n * INR,
        monthlyMax: 900n * INR,
        monthlyCountMax: 3,
      },
    },
  },
  risk: { declineAmountAtOrAbove: 400n * INR },
  configVersion: 1,
  ...over,
});

const request = (over: Partial<CaptureRequest> = {}): CaptureRequest => ({
  requestHeader: {
    protocolVersion: { major: 1, minor: 0, revision: 0 },
    requestId: "r1",
    requestTimestamp: String(NOW),
  },
  paymentIntegratorAccountId: "P",
  transactionDescription: "d",
  currencyCode: "INR",
  amount: 100n * INR,
  fop: { kind: "TOKEN", googlePaymentToken: "t" },
  verification: { kind: "NONE" },
  ...over,
});

const facts = (over: Partial<CaptureFacts> = {}): CaptureFacts => ({
  instrument: { kind: "TOKEN", googlePaymentToken: "t", accountId: "a1", status: "ACTIVE" },
  account: account(),
  spend: { day: 0n, month: 0n, monthCount: 0 },
  upcomingTransactionNotification: undefined,
  otp: undefined,
  authenticationRequest: undefined,
  ...over,
});

const result = (r: CaptureRequest, f: CaptureFacts) => decideCapture(r, f, NOW);

describe("decideCapture", () => {
  test("an active account with room in every limit succeeds", () => {
    assert.deepEqual(result(request(), facts()), {
      result: "SUCCESS",
      rawCode: "APPROVED",
      consumeOtp: false,
    });
  });

  for (const [status, code] of [
    ["CLOSED", "ACCOUNT_CLOSED"],
    ["CLOSED_FRAUD", "ACCOUNT_CLOSED_FRAUD"],
    ["CLOSED_ACCOUNT_TAKEN_OVER", "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER"],
    ["ON_HOLD", "ACCOUNT_ON_HOLD"],
  ] as const) {
    test(`account ${status} → ${code}, before anything else`, () => {
      const d = result(
        request({ amount: 10_000n * INR }),
        facts({ account: account({ status, fundingSource: "NONE" }) }),
      );
      assert.equal(d.result, code);
      assert.equal(d.rawCode, `ACCOUNT_${status}`);
    });
  }

  test("token states", () => {
    const token = (status: "INVALIDATED_BY_USER" | "REFRESH_REQUIRED") =>
      facts({ instrument: { kind: "TOKEN", googlePaymentToken: "t", accountId: "a1", status } });
    assert.equal(
      result(request(), token("INVALIDATED_BY_USER")).result,
      "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER",
    );
    assert.equal(result(request(), token("REFRESH_REQUIRED")).result, "TOKEN_REFRESH_REQUIRED");
  });

  test("an inactive mandate → MANDATE_NOT_ACTIVE", () => {
    const r = request({ fop: { kind: "MANDATE", mandateId: "m" } });
    const f = facts({ instrument: { kind: "MANDATE", mandateId: "m", accountId: "a1", status: "INACTIVE" } });
    assert.equal(result(r, f).result, "MANDATE_NOT_ACTIVE");
  });

  test("upcoming transaction notification: expired, unknown, for another mandate", () => {
    const r = request({
      fop: { kind: "MANDATE_WITH_NOTIFICATION", mandateId: "m", upcomingTransactionNotificationId: "u" },
    });
    const mandate = { kind: "MANDATE", mandateId: "m", accountId: "a1", status: "ACTIVE" } as const;
    const utn = (mandateId: string, expiresAtMs: number) => ({
      upcomingTransactionNotificationId: "u",
      mandateId,
      expiresAtMs,
    });
    assert.equal(
      result(r, facts({ instrument: mandate, upcomingTransactionNotification: utn("m", NOW) })).result,
      "UPCOMING_TRANSACTION_NOTIFICATION_EXPIRED",
    );
    assert.equal(
      result(r, facts({ instrument: mandate, upcomingTransactionNotification: utn("m", NOW + 1) })).result,
      "SUCCESS",
    );
    assert.throws(() => result(r, facts({ instrument: mandate })), { code: "INVALID_IDENTIFIER" });
    assert.throws(
      () => result(r, facts({ instrument: mandate, upcomingTransactionNotification: utn("other", NOW + 1) })),
      {
        code: "PRECONDITION_VIOLATION",
      },
    );
  });

  test("OTP: matched is consumed, wrong does not match (and counts), reused is refused, another account's does not match", () => {
    const pepper = Buffer.alloc(32, 7);
    const otp = (used: boolean, accountId = "a1", extra: Partial<Otp> = {}): Otp => ({
      sendOtpRequestId: "s",
      accountId,
      otpDigest: otpDigest(pepper, "s", "123456"),
      used,
      attempts: 0,
      ...extra,
    });
    const r = (value: string) =>
      request({ verification: { kind: "OTP", sendOtpRequestId: "s", otp: value } });
    const result = (value: string, f: CaptureFacts) =>
      decideCapture(r(value), f, NOW, undefined, otpDigest(pepper, "s", value));
    assert.deepEqual(result("123456", facts({ otp: otp(false) })), {
      result: "SUCCESS",
      rawCode: "APPROVED",
      consumeOtp: true,
    });
    assert.deepEqual(result("123457", facts({ otp: otp(false) })), {
      result: "OTP_NOT_MATCHED",
      rawCode: "OTP_MISMATCH",
      consumeOtp: false,
      countOtpFailure: true,
    });
    assert.equal(result("123456", facts({ otp: otp(true) })).result, "OTP_ALREADY_USED");
    assert.equal(
      result("123457", facts({ otp: otp(true) })).countOtpFailure,
      false,
      "a spent OTP counts nothing",
    );
    assert.equal(result("123456", facts({ otp: otp(false, "a2") })).result, "OTP_NOT_MATCHED");
    assert.throws(() => result("123456", facts()), { code: "INVALID_IDENTIFIER" });
    // A matched OTP is spent even when the capture then declines.
    const declined = result(
      "123456",
      facts({ otp: otp(false), account: account({ fundingSource: "NONE" }) }),
    );
    assert.equal(declined.result, "NO_GOOD_FUNDING_SOURCE_AVAILABLE");
    assert.equal(declined.consumeOtp, true);
    // Out of tries or expired: not matched, the right OTP included, and nothing to count or spend.
    for (const [extra, rawCode] of [
      [{ attempts: MAX_OTP_ATTEMPTS }, "OTP_ATTEMPTS_EXHAUSTED"],
      [{ expiresAtMs: NOW }, "OTP_EXPIRED"],
    ] as const) {
      for (const value of ["123456", "000000"]) {
        assert.deepEqual(result(value, facts({ otp: otp(false, "a1", extra) })), {
          result: "OTP_NOT_MATCHED",
          rawCode,
          consumeOtp: false,
        });
      }
    }
    assert.equal(
      result("123456", facts({ otp: otp(false, "a1", { attempts: MAX_OTP_ATTEMPTS - 1 }) })).result,
      "SUCCESS",
    );
  });

  test("authentication request must exist and belong to the account", () => {
    const r = request({ verification: { kind: "AUTHENTICATION", authenticationRequestId: "x" } });
    assert.equal(
      result(r, facts({ authenticationRequest: { authenticationRequestId: "x", accountId: "a1" } })).result,
      "SUCCESS",
    );
    assert.throws(() => result(r, facts()), { code: "INVALID_IDENTIFIER" });
    assert.throws(
      () => result(r, facts({ authenticationRequest: { authenticationRequestId: "x", accountId: "a2" } })),
      {
        code: "PRECONDITION_VIOLATION",
      },
    );
  });

  test("currency and funding source", () => {
    assert.equal(
      result(request({ currencyCode: "USD" }), facts()).result,
      "ACCOUNT_DOES_NOT_SUPPORT_CURRENCY",
    );
    assert.equal(
      result(request(), facts({ account: account({ fundingSource: "NONE" }) })).result,
      "NO_GOOD_FUNDING_SOURCE_AVAILABLE",
    );
    assert.equal(
      result(request(), facts({ account: account({ fundingSource: "UNAVAILABLE" }) })).result,
      "FUNDING_SOURCE_UNAVAILABLE",
    );
  });

  test("per-transaction limits carry the limit with the code", () => {
    assert.deepEqual(result(request({ amount: 500n * INR + 1n }), facts()), {
      result: "CHARGE_EXCEEDS_TRANSACTION_LIMIT",
      rawCode: "OVER_TRANSACTION_MAX",
      transactionLimit: 500n * INR,
      consumeOtp: false,
    });
    assert.equal(
      result(request({ amount: 500n * INR }), facts({ account: account({ risk: {} }) })).result,
      "SUCCESS",
    );
    assert.equal(result(request({ amount: INR - 1n }), facts()).result, "CHARGE_UNDER_LIMIT");
  });

  test("the risk rule declines at its threshold and is pluggable", () => {
    assert.equal(result(request({ amount: 400n * INR }), facts()).result, "RISK_DECLINED");
    assert.equal(result(request({ amount: 400n * INR - 1n }), facts()).result, "SUCCESS");
    const d = decideCapture(request(), facts(), NOW, () => "VELOCITY");
    assert.deepEqual([d.result, d.rawCode], ["RISK_DECLINED", "VELOCITY"]);
  });

  test("daily, monthly amount and monthly count limits count what was already spent", () => {
    const spent = (day: bigint, month: bigint, monthCount: number) =>
      facts({ spend: { day, month, monthCount } });
    assert.equal(result(request(), spent(700n * INR, 700n * INR, 0)).result, "SUCCESS");
    assert.equal(
      result(request(), spent(700n * INR + 1n, 700n * INR + 1n, 0)).result,
      "CHARGE_EXCEEDS_DAILY_LIMIT",
    );
    assert.equal(result(request(), spent(0n, 800n * INR + 1n, 0)).result, "CHARGE_EXCEEDS_MONTHLY_LIMIT");
    assert.equal(result(request(), spent(0n, 0n, 3)).result, "CHARGE_EXCEEDS_MONTHLY_LIMIT");
    assert.equal(result(request(), spent(0n, 0n, 2)).result, "SUCCESS");
  });

  test("insufficient funds reports the balance; an exact balance succeeds", () => {
    const poor = account({ currencies: { INR: { balance: 50n * INR, limits: {} } } });
    assert.deepEqual(result(request(), facts({ account: poor })), {
      result: "INSUFFICIENT_FUNDS",
      rawCode: "BALANCE_TOO_LOW",
      currentBalance: 50n * INR,
      consumeOtp: false,
    });
    assert.equal(result(request({ amount: 50n * INR }), facts({ account: poor })).result, "SUCCESS");
  });

  test("an unknown instrument is a 404 naming its kind, never a result code", () => {
    assert.throws(
      () => result(request(), facts({ instrument: undefined })),
      (e: unknown) =>
        e instanceof ProtocolError && e.status === 404 && e.description === "unknown googlePaymentToken",
    );
    assert.throws(
      () => result(request({ fop: { kind: "MANDATE", mandateId: "m" } }), facts({ instrument: undefined })),
      {
        description: "unknown mandateId",
      },
    );
  });
});
