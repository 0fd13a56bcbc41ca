import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../../shared/logging.ts";

/**
 * What Lambda's SQS event source mapping does, for the local stack: long-polls the queue, invokes
 * the handler with a real SQS event, deletes what succeeded and leaves the batch item failures to
 * come back when their visibility timeout ends (SQS itself moves them to the DLQ after
 * maxReceiveCount receives).
 */
export function startSqsPoller(options: {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  batchSize: number;
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  context: () => Context;
  logger: Logger;
}): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const out = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.batchSize,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["All"],
          }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0 || !running) continue;
        const records: SQSRecord[] = messages.map((m) => ({
          messageId: m.MessageId!,
          receiptHandle: m.ReceiptHandle!,
          body: m.Body ?? "",
          attributes: {
            ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
            SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
            SenderId: m.Attributes?.SenderId ?? "local",
            ApproximateFirstReceiveTimestamp:
              m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: m.MD5OfBody ?? "",
          eventSource: "aws:sqs",
          eventSourceARN: options.queueArn,
          awsRegion: "us-east-1",
        }));
        let failed: Set<string>;
        try {
          const result = await options.handler({ Records: records }, options.context());
          failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        } catch (error) {
          options.logger.error("consumer invocation failed; the batch will be retried", {
            error: error as Error,
          });
          continue;
        }
        const done = records.filter((r) => !failed.has(r.messageId));
        if (done.length > 0) {
          await options.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: options.queueUrl,
              Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
            }),
          );
        }
      } catch (error) {
        if (running) options.logger.warn("queue poll failed", { error: error as Error });
        if (running) await new Promise((r) => setTimeout(r, 200)); // back off before polling again
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}
