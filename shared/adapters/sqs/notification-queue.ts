import type { SQSClient } from "@aws-sdk/client-sqs";
import type { NotificationMessage, NotificationQueue } from "../../domain/capture-record.ts";
import { sqsSender } from "./send.ts";

/** The notifications queue: each message names one record (a capture or a refund), nothing else. */
export const sqsNotificationQueue = (client: SQSClient | undefined, queueUrl: string): NotificationQueue => {
  const send = sqsSender(client);
  return { enqueue: (message) => send(queueUrl, JSON.stringify(onlyIds(message))) };
};

/** The message's identifiers and nothing else (whatever else the caller's object holds). */
const onlyIds = (m: NotificationMessage): NotificationMessage =>
  "refundRequestId" in m
    ? { paymentIntegratorAccountId: m.paymentIntegratorAccountId, refundRequestId: m.refundRequestId }
    : { paymentIntegratorAccountId: m.paymentIntegratorAccountId, captureRequestId: m.captureRequestId };

export function parseNotificationMessage(body: string): NotificationMessage | undefined {
  try {
    const m = JSON.parse(body) as Record<string, unknown>;
    if (typeof m.paymentIntegratorAccountId !== "string") return undefined;
    if (typeof m.captureRequestId === "string" || typeof m.refundRequestId === "string") {
      return onlyIds(m as NotificationMessage);
    }
  } catch {}
  return undefined;
}

/** The record a message names, for logs and operators: its kind and Google's requestId of it. */
export const messageSubject = (m: NotificationMessage) =>
  "refundRequestId" in m
    ? { kind: "refund" as const, requestId: m.refundRequestId }
    : { kind: "capture" as const, requestId: m.captureRequestId };
