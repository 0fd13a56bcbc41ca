import { createHash } from "node:crypto";
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { DeliveryAttempt } from "../../domain/capture-record.ts";
import type { RefundNotification } from "../../domain/refund-service.ts";
import { type Item, N, S } from "./items.ts";

/**
 * What every record that owes Google a message stores the same way (captures, refunds): the owed
 * notification with its fixed requestId and tries, and the sparse sweep marker while nobody has
 * enqueued it yet.
 */

/** The sweep index is split over a few partitions so no single one gets hot. */
export const SWEEP_SHARDS = 4;

export const shardOf = (recordKey: string) =>
  `S${createHash("sha1").update(recordKey).digest()[0]! % SWEEP_SHARDS}`;

/** The sparse index attributes of a record the sweeper must look at from `at` on. */
export const sweepMarker = (recordKey: string, at: number) => ({
  sweepShard: S(shardOf(recordKey)),
  sweepAt: N(at),
});

/** An owed notification's common members, as a DynamoDB map; `extra` adds the kind's own result. */
export function owedToAttribute(n: RefundNotification, extra: Item = {}): AttributeValue {
  return {
    M: {
      requestId: S(n.requestId),
      state: S(n.state),
      enqueued: { BOOL: n.enqueued },
      decidedAtMs: N(n.decidedAtMs),
      attempts: { L: n.attempts.map((a) => ({ M: { atMs: N(a.atMs), outcome: S(a.outcome) } })) },
      ...extra,
    },
  };
}

export function attributeToOwed(m: Item): RefundNotification {
  return {
    requestId: m.requestId!.S!,
    state: m.state!.S! as RefundNotification["state"],
    enqueued: m.enqueued?.BOOL === true,
    decidedAtMs: Number(m.decidedAtMs!.N!),
    attempts: (m.attempts?.L ?? []).map((a) => ({ atMs: Number(a.M!.atMs!.N!), outcome: a.M!.outcome!.S! })),
  };
}

/** The notification is on the queue: off the sweep index. */
export async function markEnqueued(db: DynamoDBClient, table: string, recordKey: string): Promise<void> {
  await db.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: S(recordKey) },
      UpdateExpression: "SET notification.enqueued = :true REMOVE sweepShard, sweepAt",
      ConditionExpression: "attribute_exists(notification)",
      ExpressionAttributeValues: { ":true": { BOOL: true } },
    }),
  );
}

/** Appends one try; the first SUCCESS makes the notification NOTIFIED. */
export async function recordDelivery(
  db: DynamoDBClient,
  table: string,
  recordKey: string,
  attempt: DeliveryAttempt,
  delivered: boolean,
): Promise<void> {
  const entry: AttributeValue = { L: [{ M: { atMs: N(attempt.atMs), outcome: S(attempt.outcome) } }] };
  await db.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: S(recordKey) },
      UpdateExpression: `SET notification.attempts = list_append(notification.attempts, :entry)${delivered ? ", notification.#state = :notified" : ""}`,
      ExpressionAttributeValues: { ":entry": entry, ...(delivered && { ":notified": S("NOTIFIED") }) },
      ...(delivered && { ExpressionAttributeNames: { "#state": "state" } }),
    }),
  );
}

/** One BatchGetItem (≤ 100 keys), plus retries of unprocessed keys, which only throttling produces. */
export async function batchGetAll(
  db: DynamoDBClient,
  request: BatchGetItemCommandInput["RequestItems"],
): Promise<Record<string, Item[]>> {
  const responses: Record<string, Item[]> = {};
  let pending = request;
  while (pending && Object.keys(pending).length > 0) {
    const out: BatchGetItemCommandOutput = await db.send(new BatchGetItemCommand({ RequestItems: pending }));
    for (const [table, items] of Object.entries(out.Responses ?? {})) {
      responses[table] = [...(responses[table] ?? []), ...items];
    }
    pending = out.UnprocessedKeys;
  }
  return responses;
}
