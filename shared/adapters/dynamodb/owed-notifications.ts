import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { DeliveryAttempt, OwedNotification } from "../../domain/capture-record.ts";
import type { DueOptions, DuePage } from "../../domain/capture-service.ts";
import { type Item, N, S } from "./items.ts";

/**
 * What every record that owes Google a message stores the same way (captures, refunds): the owed
 * notification with its fixed requestId and tries, the sparse sweep marker while the sweeper must look
 * at it, and the reads and updates the notifier, the sweeper and operators make on it.
 */

/** The sweep index is split over a few partitions so no single one gets hot. */
export const SWEEP_SHARDS = 4;
/** The sparse index declared in infra/resources.ts (captures.indexes, refunds.indexes). */
export const SWEEP_INDEX = "sweep";
/** Unprocessed keys: tries per BatchGetItem, full-jitter backoff ceiling base · 2^n capped, and the default time budget. */
const BATCH_GET_ATTEMPTS = 6;
const BATCH_GET_BACKOFF_BASE_MS = 25;
const BATCH_GET_BACKOFF_CAP_MS = 1000;
const BATCH_GET_BUDGET_MS = 2000;

/** The sweep index shard of a record. */
export const shardOf = (recordKey: string) =>
  `S${createHash("sha1").update(recordKey).digest()[0]! % SWEEP_SHARDS}`;

/** The sparse index attributes of a record the sweeper must look at from `at` on. */
export const sweepMarker = (recordKey: string, at: number) => ({
  sweepShard: S(shardOf(recordKey)),
  sweepAt: N(at),
});

/**
 * When the sweeper must enqueue a notification that is owed and not known to be enqueued: `graceMs` after
 * it was decided (the writer enqueues it first, as a rule). Undefined for any other notification, or none.
 */
export const enqueueDueAt = (n: OwedNotification | undefined, graceMs: number): number | undefined =>
  n?.state === "OWED" && !n.enqueued ? n.decidedAtMs + graceMs : undefined;

/** An owed notification's common members, as a DynamoDB map; `extra` adds the kind's own result. */
export function owedToAttribute(n: OwedNotification, extra: Item = {}): AttributeValue {
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

export function attributeToOwed(m: Item): OwedNotification {
  return {
    requestId: m.requestId!.S!,
    state: m.state!.S! as OwedNotification["state"],
    enqueued: m.enqueued?.BOOL === true,
    decidedAtMs: Number(m.decidedAtMs!.N!),
    attempts: (m.attempts?.L ?? []).map((a) => ({ atMs: Number(a.M!.atMs!.N!), outcome: a.M!.outcome!.S! })),
  };
}

/** The store of a kind of record that owes Google a message: the updates made on that notification. */
export class OwedNotificationStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async #update(
    recordKey: string,
    input: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], "TableName" | "Key">,
  ) {
    await this.#db.send(
      new UpdateItemCommand({ TableName: this.#table, Key: { pk: S(recordKey) }, ...input }),
    );
  }

  /** The notification is on the queue: off the sweep index. */
  markEnqueued(recordKey: string): Promise<void> {
    return this.#update(recordKey, {
      UpdateExpression: "SET notification.enqueued = :true REMOVE sweepShard, sweepAt",
      ConditionExpression: "attribute_exists(notification)",
      ExpressionAttributeValues: { ":true": { BOOL: true } },
    });
  }

  /** Appends one try; the first SUCCESS makes the notification NOTIFIED. */
  recordDelivery(recordKey: string, attempt: DeliveryAttempt, delivered: boolean): Promise<void> {
    return this.#update(recordKey, {
      UpdateExpression: `SET notification.attempts = list_append(notification.attempts, :entry)${delivered ? ", notification.#state = :notified" : ""}`,
      ExpressionAttributeValues: {
        ":entry": { L: [{ M: { atMs: N(attempt.atMs), outcome: S(attempt.outcome) } }] },
        ...(delivered && { ":notified": S("NOTIFIED") }),
      },
      ...(delivered && { ExpressionAttributeNames: { "#state": "state" } }),
    });
  }

  /** For operators: owe the stored notification again (same requestId, same result), so a new message sends it. */
  reopenNotification(recordKey: string): Promise<void> {
    return this.#update(recordKey, {
      UpdateExpression: "SET notification.#state = :owed",
      ConditionExpression: "attribute_exists(notification)",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":owed": S("OWED") },
    });
  }
}

/**
 * One BatchGetItem (≤ 100 keys), plus retries of unprocessed keys, which only throttling produces:
 * with full-jitter backoff, at most BATCH_GET_ATTEMPTS tries and never past the caller's deadline.
 */
export async function batchGetAll(
  db: DynamoDBClient,
  request: BatchGetItemCommandInput["RequestItems"],
  deadlineMs = Date.now() + BATCH_GET_BUDGET_MS,
): Promise<Record<string, Item[]>> {
  const responses: Record<string, Item[]> = {};
  let pending = request;
  for (let attempt = 1; ; attempt++) {
    const out: BatchGetItemCommandOutput = await db.send(new BatchGetItemCommand({ RequestItems: pending }));
    for (const [table, items] of Object.entries(out.Responses ?? {})) {
      responses[table] = [...(responses[table] ?? []), ...items];
    }
    pending = out.UnprocessedKeys;
    if (!pending || Object.keys(pending).length === 0) return responses;
    const pause =
      Math.random() * Math.min(BATCH_GET_BACKOFF_CAP_MS, BATCH_GET_BACKOFF_BASE_MS * 2 ** attempt);
    if (attempt >= BATCH_GET_ATTEMPTS || Date.now() + pause > deadlineMs) {
      throw new Error(`BatchGetItem: keys still unprocessed (throttled) after ${attempt} attempts`);
    }
    await delay(pause);
  }
}

/** Where a paged pass over the sweep index stands: the shards not yet drained and where each resumes. */
type DueCursor = { shard: number; startKey?: Record<string, AttributeValue> }[];
const startCursor = (): DueCursor => Array.from({ length: SWEEP_SHARDS }, (_, shard) => ({ shard }));

/** One page of the items a table's sparse sweep index says are due at `nowMs`, read again strongly consistent. */
export async function duePage(
  db: DynamoDBClient,
  table: string,
  nowMs: number,
  options: DueOptions = {},
): Promise<DuePage<Item>> {
  const pageSize = options.pageSize ?? 100;
  const shards = (options.next as DueCursor | undefined) ?? startCursor();
  // Every shard still holding due records gets an equal share of the page, so none starves.
  const share = Math.max(1, Math.floor(pageSize / shards.length));
  const pages = await Promise.all(
    shards.map((s) =>
      db.send(
        new QueryCommand({
          TableName: table,
          IndexName: SWEEP_INDEX,
          KeyConditionExpression: "sweepShard = :shard AND sweepAt <= :now",
          ExpressionAttributeValues: { ":shard": S(`S${s.shard}`), ":now": N(nowMs) },
          Limit: share,
          ...(s.startKey && { ExclusiveStartKey: s.startKey }),
        }),
      ),
    ),
  );
  const keys: string[] = [];
  let oldestDueAtMs: number | undefined;
  const next: DueCursor = [];
  pages.forEach((out, i) => {
    for (const item of out.Items ?? []) {
      keys.push(item.pk!.S!);
      const at = Number(item.sweepAt!.N!);
      if (oldestDueAtMs === undefined || at < oldestDueAtMs) oldestDueAtMs = at;
    }
    if (out.LastEvaluatedKey) next.push({ shard: shards[i]!.shard, startKey: out.LastEvaluatedKey });
  });
  // The index is eventually consistent: act on the record as it is now (strongly consistent
  // reads, up to 100 keys per BatchGetItem: a page of ≤ 100 records is one round trip).
  const records: Item[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    const chunk = keys.slice(i, i + 100).map((k) => ({ pk: S(k) }));
    const out = await batchGetAll(db, { [table]: { Keys: chunk, ConsistentRead: true } }, options.deadlineMs);
    records.push(...(out[table] ?? []));
  }
  return {
    records,
    ...(oldestDueAtMs !== undefined && { oldestDueAtMs }),
    ...(next.length > 0 && { next }),
  };
}
