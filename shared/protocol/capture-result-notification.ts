import * as v from "valibot";
import type { CaptureResultCode } from "./capture.ts";
import { identifier, RawResult, RequestHeader } from "./common.ts";

/** CaptureResultCode values of captureResultNotification (UNKNOWN_RESULT is never sent). */
export const NotificationResultCode = [
  "SUCCESS",
  "CHARGE_UNDER_TRANSACTION_LIMIT",
  "CHARGE_EXCEEDS_TRANSACTION_LIMIT",
  "CHARGE_EXCEEDS_DAILY_LIMIT",
  "CHARGE_EXCEEDS_MONTHLY_LIMIT",
  "INSUFFICIENT_FUNDS",
  "SUSPECTED_FRAUD",
  "ACCOUNT_CLOSED",
  "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  "ACCOUNT_CLOSED_FRAUD",
  "ACCOUNT_ON_HOLD",
  "OTP_NOT_MATCHED",
  "OTP_ALREADY_USED",
  "CAPTURE_REQUEST_EXPIRED",
  "INVALID_PIN",
  "OS_LOCK_FAILED",
  "PIN_ENTRY_ATTEMPTS_EXHAUSTED",
  "USER_EXITED_PAYMENT_FLOW",
  "MONTHLY_FREQUENCY_LIMIT_EXCEEDED",
  "DECLINED_BY_ISSUER",
] as const;
export type NotificationResultCode = (typeof NotificationResultCode)[number];

/** Failures the integrator's own systems may report for an attempt (the customer's side of the flow). */
export const ReportedFailureCode = [
  "INVALID_PIN",
  "OS_LOCK_FAILED",
  "PIN_ENTRY_ATTEMPTS_EXHAUSTED",
  "USER_EXITED_PAYMENT_FLOW",
  "SUSPECTED_FRAUD",
  "DECLINED_BY_ISSUER",
] as const;
export type ReportedFailureCode = (typeof ReportedFailureCode)[number];

const micros = v.pipe(v.string(), v.regex(/^(0|[1-9][0-9]{0,18})$/));

export const CaptureResult = v.object({
  captureResultCode: v.picklist(NotificationResultCode),
  rawResult: v.optional(RawResult),
  transactionMaxLimit: v.optional(micros),
  transactionMinLimit: v.optional(micros),
  currentBalance: v.optional(micros),
});
export type CaptureResult = v.InferOutput<typeof CaptureResult>;

/** The request we send to Google; the stand-in Google validates what it receives against it. */
export const CaptureResultNotificationRequest = v.pipe(
  v.strictObject({
    requestHeader: RequestHeader,
    paymentIntegratorAccountId: identifier,
    captureRequestId: identifier,
    captureResult: CaptureResult,
    paymentIntegratorTransactionId: v.optional(identifier),
  }),
  v.check(
    (r) => r.captureResult.captureResultCode === "SUCCESS" || r.captureResult.rawResult !== undefined,
    "rawResult is required unless SUCCESS",
  ),
  v.check(
    (r) =>
      [
        r.captureResult.transactionMaxLimit,
        r.captureResult.transactionMinLimit,
        r.captureResult.currentBalance,
      ].filter((x) => x !== undefined).length <= 1,
    "at most one FailureDetail member",
  ),
);
export type CaptureResultNotificationRequest = v.InferOutput<typeof CaptureResultNotificationRequest>;

export const CaptureResultNotificationResponse = v.object({
  responseHeader: v.object({ responseTimestamp: v.pipe(v.string(), v.regex(/^[0-9]{1,16}$/)) }),
  result: v.literal("SUCCESS"),
});

/**
 * The capture decision as captureResultNotification says it. The notification's enum differs from
 * capture's: limits have their own names, a monthly count limit has its own code, and the decisions
 * it has no word for are DECLINED_BY_ISSUER, with our precise raw code alongside.
 */
export function notificationResultOf(result: CaptureResultCode, rawCode: string): NotificationResultCode {
  switch (result) {
    case "CHARGE_UNDER_LIMIT":
      return "CHARGE_UNDER_TRANSACTION_LIMIT";
    case "CHARGE_EXCEEDS_MONTHLY_LIMIT":
      return rawCode === "OVER_MONTHLY_COUNT"
        ? "MONTHLY_FREQUENCY_LIMIT_EXCEEDED"
        : "CHARGE_EXCEEDS_MONTHLY_LIMIT";
    case "RISK_DECLINED":
      return "SUSPECTED_FRAUD";
    case "SUCCESS":
    case "CHARGE_EXCEEDS_TRANSACTION_LIMIT":
    case "CHARGE_EXCEEDS_DAILY_LIMIT":
    case "INSUFFICIENT_FUNDS":
    case "ACCOUNT_CLOSED":
    case "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER":
    case "ACCOUNT_CLOSED_FRAUD":
    case "ACCOUNT_ON_HOLD":
    case "OTP_NOT_MATCHED":
    case "OTP_ALREADY_USED":
      return result;
    case "ACCOUNT_DOES_NOT_SUPPORT_CURRENCY":
    case "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER":
    case "TOKEN_REFRESH_REQUIRED":
    case "NO_GOOD_FUNDING_SOURCE_AVAILABLE":
    case "FUNDING_SOURCE_UNAVAILABLE":
    case "MANDATE_NOT_ACTIVE":
    case "UPCOMING_TRANSACTION_NOTIFICATION_EXPIRED":
      return "DECLINED_BY_ISSUER";
  }
}
