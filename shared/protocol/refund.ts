import * as v from "valibot";
import {
  currencyCode,
  identifier,
  jsonObject,
  parseWith,
  positiveMicros,
  type RawResult,
  RequestHeader,
  requestIdPattern,
} from "./common.ts";

/**
 * RefundResultCode. The public reference's enum could not be read whole (gsp-protocol.md): this list is
 * our decision, kept in this one place so it is easy to correct. UNKNOWN_RESULT is never sent.
 */
export const RefundResultCode = [
  "SUCCESS",
  "ACCOUNT_CLOSED",
  "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  "ACCOUNT_CLOSED_FRAUD",
  "ACCOUNT_ON_HOLD",
] as const;
export type RefundResultCode = (typeof RefundResultCode)[number];

const RefundRequestSchema = jsonObject({
  requestHeader: RequestHeader,
  paymentIntegratorAccountId: identifier,
  // Google's requestId of the capture: the same alphabet as any requestId.
  captureRequestId: requestIdPattern,
  currencyCode,
  refundAmount: positiveMicros,
});
export type RefundRequest = v.InferOutput<typeof RefundRequestSchema>;

/** Validates a decrypted refund request; unknown members are ignored (forward compatibility). */
export const parseRefundRequest = (body: Record<string, unknown>): RefundRequest =>
  parseWith(RefundRequestSchema, body);

/** The 200 answer to a refund (responseHeader added when it is sent). */
export interface RefundResponse extends Record<string, unknown> {
  paymentIntegratorRefundId: string;
  result: RefundResultCode;
  rawResult?: RawResult;
}

/** refundResultNotification, the request we send to Google; the stand-in Google validates against it. */
export const RefundResultNotificationRequest = v.strictObject({
  requestHeader: RequestHeader,
  paymentIntegratorAccountId: identifier,
  refundRequestId: requestIdPattern,
  refundResult: v.picklist(RefundResultCode),
  paymentIntegratorRefundId: identifier,
});
export type RefundResultNotificationRequest = v.InferOutput<typeof RefundResultNotificationRequest>;
