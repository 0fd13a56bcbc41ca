import type { CaptureResultNotificationRequest } from "../protocol/capture-result-notification.ts";
import type { NotificationMessage } from "./capture-outcome-service.ts";
import type { CaptureRecord } from "./capture-record.ts";
import type { CaptureStore } from "./capture-service.ts";
import { idempotencyKey } from "./idempotency.ts";

export type DeliveryResult =
  | { ok: true }
  /** `configuration`: Google answered 404 with an empty body, it could not verify us (keys or PIAID). */
  | { ok: false; reason: string; configuration: boolean };

/** Google's captureResultNotification endpoint, as the notifier sees it. */
export interface GoogleNotifier {
  send(
    paymentIntegratorAccountId: string,
    request: CaptureResultNotificationRequest,
  ): Promise<DeliveryResult>;
}

export interface NotifierDeps {
  store: CaptureStore;
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

/** The notification as sent on this try: the stored result and requestId, a fresh requestTimestamp. */
export function notificationRequest(record: CaptureRecord, now: number): CaptureResultNotificationRequest {
  const n = record.notification!;
  return {
    requestHeader: {
      protocolVersion: { major: 1, minor: 0, revision: 0 },
      requestId: n.requestId,
      requestTimestamp: String(now),
    },
    paymentIntegratorAccountId: record.paymentIntegratorAccountId,
    captureRequestId: record.requestId,
    captureResult: n.captureResult,
    paymentIntegratorTransactionId: record.paymentIntegratorTransactionId,
  };
}

/**
 * Delivers one queued notification. The message carries identifiers only; what is sent is read
 * from the record, so a retried or replayed message can never send a different result. Its tries
 * are the record's attempts since `sentAtMs` (when the message was queued): receives that never
 * reached us (throttling) do not count, and a message replayed from the DLQ starts afresh.
 */
export async function deliverNotification(
  deps: NotifierDeps,
  message: NotificationMessage,
  sentAtMs = 0,
): Promise<DeliveryOutcome> {
  const key = idempotencyKey(message.paymentIntegratorAccountId, message.captureRequestId);
  const record = await deps.store.get(key);
  if (!record?.notification) return { kind: "NOTHING_TO_SEND" };
  if (record.notification.state === "NOTIFIED") return { kind: "ALREADY_DELIVERED" };
  const now = deps.now();
  const result = await deps.google.send(record.paymentIntegratorAccountId, notificationRequest(record, now));
  await deps.store.recordDelivery(
    key,
    { atMs: now, outcome: result.ok ? "SUCCESS" : result.reason },
    result.ok,
  );
  if (result.ok) return { kind: "DELIVERED" };
  const tries = record.notification.attempts.filter((a) => a.atMs >= sentAtMs).length + 1;
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
