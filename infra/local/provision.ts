import {
  type AttributeDefinition,
  CreateTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import {
  type KeyAttribute,
  type QueueDefinition,
  queues,
  type TableDefinition,
  tableName,
  tables,
} from "../resources.ts";

const keySchema = (k: { partitionKey: KeyAttribute; sortKey?: KeyAttribute }): KeySchemaElement[] => [
  { AttributeName: k.partitionKey.name, KeyType: "HASH" },
  ...(k.sortKey ? [{ AttributeName: k.sortKey.name, KeyType: "RANGE" as const }] : []),
];

/** Creates every table of infra/resources.ts with its indexes (idempotent: an existing table is kept). */
export async function createTables(
  db: DynamoDBClient,
  prefix: string,
): Promise<Record<keyof typeof tables, string>> {
  const names = {} as Record<keyof typeof tables, string>;
  for (const [logical, def] of Object.entries(tables) as [keyof typeof tables, TableDefinition][]) {
    const TableName = tableName(prefix, def);
    const attributes = [def, ...(def.indexes ?? [])].flatMap((k) => [
      k.partitionKey,
      ...(k.sortKey ? [k.sortKey] : []),
    ]);
    const AttributeDefinitions: AttributeDefinition[] = [
      ...new Map(attributes.map((a) => [a.name, a])).values(),
    ].map((a) => ({ AttributeName: a.name, AttributeType: a.type }));
    const GlobalSecondaryIndexes = def.indexes?.map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(index),
      Projection: {
        ProjectionType: index.projection,
        ...(index.include && { NonKeyAttributes: [...index.include] }),
      },
    }));
    try {
      await db.send(
        new CreateTableCommand({
          TableName,
          KeySchema: keySchema(def),
          AttributeDefinitions,
          BillingMode: "PAY_PER_REQUEST",
          ...(GlobalSecondaryIndexes && { GlobalSecondaryIndexes }),
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
  arn: string;
  deadLetterUrl?: string;
}

/** Creates every queue of infra/resources.ts with its dead-letter queue and redrive policy. */
export async function createQueues(
  sqs: SQSClient,
  prefix: string,
): Promise<Record<keyof typeof queues, QueueUrls>> {
  const urls = {} as Record<keyof typeof queues, QueueUrls>;
  const arnOf = async (QueueUrl: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!
      .QueueArn!;
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
      Attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: await arnOf(deadLetterUrl),
        maxReceiveCount: def.deadLetter.maxReceiveCount,
      });
    }
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}${def.name}`, Attributes }));
    urls[logical] = {
      url: queue.QueueUrl!,
      arn: await arnOf(queue.QueueUrl!),
      ...(deadLetterUrl && { deadLetterUrl }),
    };
  }
  return urls;
}
