import * as v from "valibot";
import {
  identifier,
  jsonObject,
  type PaymentRequest,
  parseWith,
  paymentEntries,
  paymentOf,
  type RawResult,
  unionMember,
} from "./common.ts";

/** CaptureResultCode values that `capture` may return (UNKNOWN_RESULT is never sent). */
export const CaptureResultCode = [
  "SUCCESS",
  "CHARGE_EXCEEDS_TRANSACTION_LIMIT",
  "CHARGE_EXCEEDS_DAILY_LIMIT",
  "CHARGE_EXCEEDS_MONTHLY_LIMIT",
  "CHARGE_UNDER_LIMIT",
  "INSUFFICIENT_FUNDS",
  "ACCOUNT_DOES_NOT_SUPPORT_CURRENCY",
  "ACCOUNT_CLOSED",
  "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  "ACCOUNT_ON_HOLD",
  "ACCOUNT_CLOSED_FRAUD",
  "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER",
  "TOKEN_REFRESH_REQUIRED",
  "OTP_NOT_MATCHED",
  "OTP_ALREADY_USED",
  "RISK_DECLINED",
  "NO_GOOD_FUNDING_SOURCE_AVAILABLE",
  "FUNDING_SOURCE_UNAVAILABLE",
  "MANDATE_NOT_ACTIVE",
  "UPCOMING_TRANSACTION_NOTIFICATION_EXPIRED",
] as const;
export type CaptureResultCode = (typeof CaptureResultCode)[number];

const CaptureRequestSchema = jsonObject({
  ...paymentEntries,
  captureContext: jsonObject({ userIpAddress: v.nullish(v.pipe(v.string(), v.maxLength(64))) }),
  // Optional members may be absent or null (proto3 JSON writes a default as null).
  googlePaymentToken: v.nullish(identifier),
  mandateDetails: v.nullish(jsonObject({ mandateId: identifier })),
  mandateWithNotificationDetails: v.nullish(
    jsonObject({ mandateId: identifier, upcomingTransactionNotificationId: identifier }),
  ),
  authenticationRequestId: v.nullish(identifier),
  otpVerification: v.nullish(jsonObject({ sendOtpRequestId: identifier, otp: identifier })),
});

/** How the customer's account is named in a capture: exactly one form of payment. */
export type FopDetails =
  | { kind: "TOKEN"; googlePaymentToken: string }
  /** Only in asynchronousCapture (upiDetails). */
  | { kind: "VPA"; vpa: string }
  | { kind: "MANDATE"; mandateId: string }
  | { kind: "MANDATE_WITH_NOTIFICATION"; mandateId: string; upcomingTransactionNotificationId: string };

export type AccountVerification =
  | { kind: "NONE" }
  | { kind: "AUTHENTICATION"; authenticationRequestId: string }
  | { kind: "OTP"; sendOtpRequestId: string; otp: string };

export interface CaptureRequest extends PaymentRequest {
  fop: FopDetails;
  verification: AccountVerification;
}

/** Validates a decoded capture body (header already checked) into the domain's request. */
export function parseCaptureRequest(body: Record<string, unknown>): CaptureRequest {
  const r = parseWith(CaptureRequestSchema, body);
  const fopMember = unionMember(
    r,
    ["googlePaymentToken", "mandateDetails", "mandateWithNotificationDetails"] as const,
    "fopDetails",
  );
  const verificationMember = unionMember(
    r,
    ["authenticationRequestId", "otpVerification"] as const,
    "account_verification",
    true,
  );
  const fop: FopDetails =
    fopMember === "googlePaymentToken"
      ? { kind: "TOKEN", googlePaymentToken: r.googlePaymentToken! }
      : fopMember === "mandateDetails"
        ? { kind: "MANDATE", mandateId: r.mandateDetails!.mandateId }
        : { kind: "MANDATE_WITH_NOTIFICATION", ...r.mandateWithNotificationDetails! };
  const verification: AccountVerification =
    verificationMember === "authenticationRequestId"
      ? { kind: "AUTHENTICATION", authenticationRequestId: r.authenticationRequestId! }
      : verificationMember === "otpVerification"
        ? { kind: "OTP", ...r.otpVerification! }
        : { kind: "NONE" };
  return {
    ...paymentOf(r),
    fop,
    verification,
  };
}

/** The body of a 200 capture response, without its responseHeader (stamped at send time). */
export type CaptureResult = {
  paymentIntegratorTransactionId: string;
  result: CaptureResultCode;
  rawResult?: RawResult;
  transactionLimit?: string;
  currentBalance?: string;
};
