import type { CaptureRequest } from "../protocol/capture.ts";
import type {
  CaptureResult as NotificationCaptureResult,
  ReportedFailureCode,
} from "../protocol/capture-result-notification.ts";
import type { RawResult } from "../protocol/common.ts";

/**
 * One record per (PIAID, requestId): the idempotency record, the financial record that refunds will
 * refer to, and, for an asynchronous capture, the source of truth for its outcome and its delivery.
 */
export type CaptureMethod = "capture" | "asynchronousCapture";

/** What the integrator's own systems reported for an asynchronous capture. */
export type RecordedOutcome =
  | { kind: "APPROVED" }
  | { kind: "FAILED"; captureResultCode: ReportedFailureCode; rawResult: RawResult }
  | { kind: "EXPIRED" };

export interface DeliveryAttempt {
  atMs: number;
  /** "SUCCESS", or what went wrong ("HTTP 500", "timeout", "HTTP 404, empty body: Google could not verify us"…). */
  outcome: string;
}

/**
 * A message a record owes Google (a capture's captureResultNotification, a refund's
 * refundResultNotification). Its requestId is fixed once and reused on every try.
 */
export interface OwedNotification {
  requestId: string;
  /** OWED until Google answered SUCCESS, then NOTIFIED. */
  state: "OWED" | "NOTIFIED";
  /** A message for it is known to be on the queue; until then the sweeper will enqueue it. */
  enqueued: boolean;
  decidedAtMs: number;
  attempts: DeliveryAttempt[];
}

/** The captureResultNotification owed to Google: the final result, in the notification's own words. */
export interface NotificationRecord extends OwedNotification {
  captureResult: NotificationCaptureResult;
}

export interface CaptureRecord {
  key: string;
  paymentIntegratorAccountId: string;
  requestId: string;
  method: CaptureMethod;
  fingerprint: string;
  paymentIntegratorTransactionId: string;
  /** The 200 body we answered (without responseHeader), replayed to retries. */
  response: Record<string, unknown> & { result: string };
  /** PENDING: an acknowledged asynchronous capture waiting for its outcome. Everything else is DECIDED. */
  state: "PENDING" | "DECIDED";
  amount: bigint;
  currencyCode: string;
  transactionDescription: string;
  accountId: string;
  instrumentKind: CaptureRequest["fop"]["kind"];
  /** Opaque reference of the instrument in the ledger (never the raw token or VPA). */
  instrumentRef: string;
  createdAtMs: number;
  /** Asynchronous captures: past this instant no outcome is accepted and the capture expires. */
  deadlineMs?: number;
  outcome?: RecordedOutcome;
  notification?: NotificationRecord;
  /** Σ of the successful refunds of this capture (never more than `amount`). */
  refundedAmount?: bigint;
}

/** Where notifications wait for the notifier: identifiers only, the record is the source of truth. */
export type NotificationMessage =
  | { paymentIntegratorAccountId: string; captureRequestId: string }
  | { paymentIntegratorAccountId: string; refundRequestId: string };

export interface NotificationQueue {
  enqueue(message: NotificationMessage): Promise<void>;
}
