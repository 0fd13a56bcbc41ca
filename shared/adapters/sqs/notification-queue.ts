import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { NotificationMessage, NotificationQueue } from "../../domain/capture-outcome-service.ts";

/** The notifications queue: each message names one capture record, nothing else. */
export const sqsNotificationQueue = (client: SQSClient, queueUrl: string): NotificationQueue => ({
  async enqueue(message: NotificationMessage) {
    await client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          paymentIntegratorAccountId: message.paymentIntegratorAccountId,
          captureRequestId: message.captureRequestId,
        }),
      }),
    );
  },
});

export function parseNotificationMessage(body: string): NotificationMessage | undefined {
  try {
    const m = JSON.parse(body) as Partial<NotificationMessage>;
    if (typeof m.paymentIntegratorAccountId === "string" && typeof m.captureRequestId === "string") {
      return {
        paymentIntegratorAccountId: m.paymentIntegratorAccountId,
        captureRequestId: m.captureRequestId,
      };
    }
  } catch {}
  return undefined;
}
