import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import middy from "@middy/core";
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { parseNotificationMessage } from "../../shared/adapters/sqs/notification-queue.ts";
import { runtimeConfigFrom } from "../../shared/config.ts";
import { deliverNotification, retryDelaySeconds } from "../../shared/domain/notifier.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { sqsBatchHandler } from "../../shared/http/sqs-batch.ts";
import { METRICS } from "../../shared/metrics.ts";
import { notifierServiceDeps, type ServiceDeps } from "../../shared/runtime.ts";

/**
 * SQS → captureResultNotification. Each message is one delivery try; a failed one is made visible
 * again after the backoff schedule and reported as a batch item failure. Tries are counted from the
 * record's delivery history, not the receive count (throttled receives raise it without a try);
 * the last failed try sends the message to the DLQ at once instead of waiting out a delay.
 */
export function createNotifierHandler(
  deps: Pick<ServiceDeps, "config" | "logger" | "notifier">,
  sqs: SQSClient,
  metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.notifierService }),
) {
  const { notify, notificationsQueueUrl, notificationsDlqUrl } = deps.config;
  async function one(record: SQSRecord): Promise<SQSBatchItemFailure | undefined> {
    const message = parseNotificationMessage(record.body);
    if (!message) {
      // Not ours to retry: no record could ever make it valid.
      deps.logger.error("dropping a malformed notification message", { messageId: record.messageId });
      return undefined;
    }
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
    const sentAtMs = Number(record.attributes.SentTimestamp ?? "0");
    const outcome = await deliverNotification(deps.notifier, message, sentAtMs).catch((error: Error) => ({
      kind: "FAILED" as const,
      reason: `unexpected: ${error.message}`,
      configuration: false,
      // The record could not be read: the receive count is the only count there is.
      tries: receiveCount,
    }));
    const fields: Record<string, unknown> = { ...message, receiveCount, outcome: outcome.kind };
    if (outcome.kind !== "FAILED") {
      deps.logger.info("notification", fields);
      if (outcome.kind === "DELIVERED") metrics.addMetric(METRICS.notificationDelivered, MetricUnit.Count, 1);
      return undefined;
    }
    const last = outcome.tries >= notify.maxTries;
    const retryInSeconds = last
      ? 0
      : retryDelaySeconds(outcome.tries, notify.backoffBaseSeconds, notify.backoffCapSeconds);
    fields.tries = outcome.tries;
    fields.deadLetter = last;
    if (outcome.configuration) {
      // Google could not verify us: keys or PIAID are wrong on one side. Retrying cannot fix it; an operator can.
      metrics.addMetric(METRICS.googleVerificationFailed, MetricUnit.Count, 1);
      deps.logger.error("notification refused: configuration error", {
        ...fields,
        reason: outcome.reason,
        retryInSeconds,
      });
    } else {
      deps.logger.warn("notification failed", { ...fields, reason: outcome.reason, retryInSeconds });
    }
    metrics.addMetric(METRICS.notificationFailed, MetricUnit.Count, 1);
    if (last && notificationsDlqUrl) {
      const moved = await sqs
        .send(new SendMessageCommand({ QueueUrl: notificationsDlqUrl, MessageBody: record.body }))
        .then(
          () => true,
          (error: Error) => {
            deps.logger.warn("could not move the notification to the DLQ", {
              messageId: record.messageId,
              error,
            });
            return false;
          },
        );
      // Moved: done with it here. Not moved: visible again at once, SQS's redrive takes it at maxReceiveCount.
      if (moved) return undefined;
    }
    await sqs
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: notificationsQueueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: retryInSeconds,
        }),
      )
      .catch((error: Error) =>
        deps.logger.warn("could not set the retry delay", { messageId: record.messageId, error }),
      );
    return { itemIdentifier: record.messageId };
  }

  return sqsBatchHandler(one, metrics);
}

export const handler = lazyHandler(() => {
  const deps = notifierServiceDeps(runtimeConfigFrom(process.env));
  return middy<SQSEvent, SQSBatchResponse>().handler(createNotifierHandler(deps, new SQSClient({})));
});
