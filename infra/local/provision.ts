import {
  type AttributeDefinition,
  CreateTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type QueueDefinition, queues, type TableDefinition, tableName, tables } from "../resources.ts";

/** Creates every table of infra/resources.ts (idempotent: an existing table is kept). */
export async function createTables(
  db: DynamoDBClient,
  prefix: string,
): Promise<Record<keyof typeof tables, string>> {
  const names = {} as Record<keyof typeof tables, string>;
  for (const [logical, def] of Object.entries(tables) as [keyof typeof tables, TableDefinition][]) {
    const TableName = tableName(prefix, def);
    const keys = [def.partitionKey, ...(def.sortKey ? [def.sortKey] : [])];
    const KeySchema: KeySchemaElement[] = keys.map((k, i) => ({
      AttributeName: k.name,
      KeyType: i === 0 ? "HASH" : "RANGE",
    }));
    const AttributeDefinitions: AttributeDefinition[] = keys.map((k) => ({
      AttributeName: k.name,
      AttributeType: k.type,
    }));
    try {
      await db.send(
        new CreateTableCommand({
          TableName,
          KeySchema,
          AttributeDefinitions,
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    names[logical] = TableName;
  }
  return names;
}

export interface QueueUrls {
  url: string;
  deadLetterUrl?: string;
}

/** Creates every queue of infra/resources.ts with its dead-letter queue and redrive policy. */
export async function createQueues(
  sqs: SQSClient,
  prefix: string,
): Promise<Record<keyof typeof queues, QueueUrls>> {
  const urls = {} as Record<keyof typeof queues, QueueUrls>;
  for (const [logical, def] of Object.entries(queues) as [keyof typeof queues, QueueDefinition][]) {
    let deadLetterUrl: string | undefined;
    const Attributes: Record<string, string> = {
      VisibilityTimeout: String(def.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(def.retentionSeconds),
    };
    if (def.deadLetter) {
      const dlq = await sqs.send(
        new CreateQueueCommand({
          QueueName: `${prefix}${def.deadLetter.name}`,
          Attributes: { MessageRetentionPeriod: String(def.deadLetter.retentionSeconds) },
        }),
      );
      deadLetterUrl = dlq.QueueUrl!;
      const arn = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ["QueueArn"] }),
      );
      Attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: arn.Attributes!.QueueArn,
        maxReceiveCount: def.deadLetter.maxReceiveCount,
      });
    }
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}${def.name}`, Attributes }));
    urls[logical] = { url: queue.QueueUrl!, ...(deadLetterUrl && { deadLetterUrl }) };
  }
  return urls;
}
