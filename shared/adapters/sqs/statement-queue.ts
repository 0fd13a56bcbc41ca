import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { StatementMessage } from "../../domain/statement-service.ts";

/** The statements queue: each message names one statement to reconcile, nothing else. */
export const sqsStatementQueue = (client: SQSClient, queueUrl: string) => ({
  async enqueue({ paymentIntegratorAccountId, statementId }: StatementMessage) {
    await client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ paymentIntegratorAccountId, statementId }),
      }),
    );
  },
});

export function parseStatementMessage(body: string): StatementMessage | undefined {
  try {
    const m = JSON.parse(body) as Partial<StatementMessage>;
    if (typeof m.paymentIntegratorAccountId === "string" && typeof m.statementId === "string") {
      return { paymentIntegratorAccountId: m.paymentIntegratorAccountId, statementId: m.statementId };
    }
  } catch {}
  return undefined;
}
