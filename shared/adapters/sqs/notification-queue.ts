import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { NotificationMessage } from "../../domain/capture-outcome-service.ts";
import type { RefundNotificationMessage } from "../../domain/refund-service.ts";

/** The notifications queue: each message names one record (a capture or a refund), nothing else. */
export const sqsNotificationQueue = (client: SQSClient, queueUrl: string) => ({
  async enqueue(message: NotificationMessage | RefundNotificationMessage) {
    const { paymentIntegratorAccountId } = message;
    await client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(
          "refundRequestId" in message
            ? { paymentIntegratorAccountId, refundRequestId: message.refundRequestId }
            : { paymentIntegratorAccountId, captureRequestId: message.captureRequestId },
        ),
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
