import type { SQSClient } from "@aws-sdk/client-sqs";
import type { StatementMessage } from "../../domain/statement-service.ts";
import { sqsSender } from "./send.ts";

/** The statements queue: each message names one statement to reconcile, nothing else. */
export const sqsStatementQueue = (client: SQSClient | undefined, queueUrl: string) => {
  const send = sqsSender(client);
  return {
    enqueue: ({ paymentIntegratorAccountId, statementId }: StatementMessage) =>
      send(queueUrl, JSON.stringify({ paymentIntegratorAccountId, statementId })),
  };
};

export function parseStatementMessage(body: string): StatementMessage | undefined {
  try {
    const m = JSON.parse(body) as Partial<StatementMessage>;
    if (typeof m.paymentIntegratorAccountId === "string" && typeof m.statementId === "string") {
      return { paymentIntegratorAccountId: m.paymentIntegratorAccountId, statementId: m.statementId };
    }
  } catch {}
  return undefined;
}
