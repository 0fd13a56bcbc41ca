import type { CaptureResultNotificationRequest } from "../protocol/capture-result-notification.ts";
import type { RefundResultNotificationRequest } from "../protocol/refund.ts";
import type {
  CaptureRecord,
  DeliveryAttempt,
  NotificationMessage,
  OwedNotification,
} from "./capture-record.ts";
import type { CaptureStore } from "./capture-service.ts";
import { idempotencyKey } from "./idempotency.ts";
import type { RefundRecord, RefundStore } from "./refund-service.ts";

export type DeliveryResult =
  | { ok: true }
  /** `configuration`: Google answered 404 with an empty body, it could not verify us (keys or PIAID). */
  | { ok: false; reason: string; configuration: boolean };

/** The notification methods Google hosts for us: one per kind of record that owes one. */
export type NotificationMethod = "captureResultNotification" | "refundResultNotification";

/** Google's notification endpoints, as the notifier sees them. */
export interface GoogleNotifier {
  send(
    method: NotificationMethod,
    paymentIntegratorAccountId: string,
    request: CaptureResultNotificationRequest | RefundResultNotificationRequest,
  ): Promise<DeliveryResult>;
}

export interface NotifierDeps {
  store: CaptureStore;
  refunds: Pick<RefundStore, "get" | "recordDelivery">;
  google: GoogleNotifier;
  now: () => number;
}

export type DeliveryOutcome =
  | { kind: "DELIVERED" }
  /** Already notified (a duplicate message): nothing to do. */
  | { kind: "ALREADY_DELIVERED" }
  /** No record or no notification owed: a message that should not exist; dropped. */
  | { kind: "NOTHING_TO_SEND" }
  /** `tries`: this message's tries so far, this one included, counted from the record's delivery history. */
  | { kind: "FAILED"; reason: string; configuration: boolean; tries: number };

const header = (requestId: string, now: number) => ({
  protocolVersion: { major: 1, minor: 0, revision: 0 },
  requestId,
  requestTimestamp: String(now),
});

/** The notification as sent on this try: the stored result and requestId, a fresh requestTimestamp. */
export function notificationRequest(record: CaptureRecord, now: number): CaptureResultNotificationRequest {
  const n = record.notification!;
  return {
    requestHeader: header(n.requestId, now),
    paymentIntegratorAccountId: record.paymentIntegratorAccountId,
    captureRequestId: record.requestId,
    captureResult: n.captureResult,
    paymentIntegratorTransactionId: record.paymentIntegratorTransactionId,
  };
}

/** A refund's refundResultNotification on this try: its fixed requestId and immutable result. */
export function refundNotificationRequest(
  record: RefundRecord,
  now: number,
): RefundResultNotificationRequest {
  return {
    requestHeader: header(record.notification!.requestId, now),
    paymentIntegratorAccountId: record.paymentIntegratorAccountId,
    refundRequestId: record.requestId,
    refundResult: record.response.result,
    paymentIntegratorRefundId: record.paymentIntegratorRefundId,
  };
}

/** What a queue message names, whatever the kind of record: the notification owed and how to send and note it. */
interface Owed {
  notification: OwedNotification;
  method: NotificationMethod;
  request: (now: number) => CaptureResultNotificationRequest | RefundResultNotificationRequest;
  recordDelivery: (attempt: DeliveryAttempt, delivered: boolean) => Promise<void>;
}

async function owedBy(deps: NotifierDeps, message: NotificationMessage): Promise<Owed | undefined> {
  if ("refundRequestId" in message) {
    const key = idempotencyKey(message.paymentIntegratorAccountId, message.refundRequestId);
    const record = await deps.refunds.get(key);
    return (
      record?.notification && {
        notification: record.notification,
        method: "refundResultNotification",
        request: (now) => refundNotificationRequest(record, now),
        recordDelivery: (attempt, delivered) => deps.refunds.recordDelivery(key, attempt, delivered),
      }
    );
  }
  const key = idempotencyKey(message.paymentIntegratorAccountId, message.captureRequestId);
  const record = await deps.store.get(key);
  return (
    record?.notification && {
      notification: record.notification,
      method: "captureResultNotification",
      request: (now) => notificationRequest(record, now),
      recordDelivery: (attempt, delivered) => deps.store.recordDelivery(key, attempt, delivered),
    }
  );
}

/**
 * Delivers one queued notification, of a capture or a refund. The message carries identifiers only;
 * what is sent is read from the record, so a retried or replayed message can never send a different
 * result. Its tries are the record's attempts since `sentAtMs` (when the message was queued): receives
 * that never reached us (throttling) do not count, and a message replayed from the DLQ starts afresh.
 */
export async function deliverNotification(
  deps: NotifierDeps,
  message: NotificationMessage,
  sentAtMs = 0,
): Promise<DeliveryOutcome> {
  const owed = await owedBy(deps, message);
  if (!owed) return { kind: "NOTHING_TO_SEND" };
  if (owed.notification.state === "NOTIFIED") return { kind: "ALREADY_DELIVERED" };
  const now = deps.now();
  const result = await deps.google.send(owed.method, message.paymentIntegratorAccountId, owed.request(now));
  await owed.recordDelivery({ atMs: now, outcome: result.ok ? "SUCCESS" : result.reason }, result.ok);
  if (result.ok) return { kind: "DELIVERED" };
  const tries = owed.notification.attempts.filter((a) => a.atMs >= sentAtMs).length + 1;
  return { kind: "FAILED", reason: result.reason, configuration: result.configuration, tries };
}

/**
 * When to try again after the `tries`-th failed try: exponential (base · 2^(n-1), capped) with
 * equal jitter, so the delay lies in [d/2, d]. With base 10 s and cap 900 s: 5–10 s, 10–20 s,
 * 20–40 s, 40–80 s, 80–160 s, 160–320 s, 320–640 s; the 8th failed try goes to the DLQ at once.
 */
export function retryDelaySeconds(
  tries: number,
  baseSeconds: number,
  capSeconds: number,
  random = Math.random,
): number {
  const ceiling = Math.min(capSeconds, baseSeconds * 2 ** Math.max(0, tries - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
