/**
 * Read-mostly queries for operators over the captures table; no request path uses them. Listing by
 * state and time has no index of its own (one would add write cost to every capture): the sparse
 * `sweep` index holds the live working set (PENDING captures, outcomes not yet enqueued), and
 * anything else is a bounded, paginated Scan.
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { CaptureRecord } from "../../domain/capture-record.ts";
import { itemToRecord } from "./capture-store.ts";
import type { Item } from "./items.ts";
import { batchGetAll, SWEEP_INDEX, SWEEP_SHARDS } from "./owed-notifications.ts";

export interface ScanBounds {
  /** Stop once this many records matched. */
  maxItems: number;
  /** Stop after this many Scan pages (each reads up to 1 MB). */
  maxPages: number;
}

export interface ScanResult {
  records: CaptureRecord[];
  /** Items read (what the scan cost, in items). */
  scanned: number;
  pages: number;
  /** The whole table was read (false: a bound stopped it first). */
  complete: boolean;
}

/** Items of the table that are not capture records (or that an older layout wrote) are skipped. */
function toRecord(item: Item): CaptureRecord | undefined {
  try {
    return itemToRecord(item);
  } catch {
    return undefined;
  }
}

/**
 * Reads the table page by page (eventually consistent: half the read units) and keeps the records
 * `match` accepts. The filter runs here rather than as a FilterExpression: a FilterExpression saves
 * transfer, not read units, and here it keeps the query independent of the item layout.
 */
export async function scanCaptures(
  db: DynamoDBClient,
  table: string,
  match: (record: CaptureRecord) => boolean,
  bounds: ScanBounds,
): Promise<ScanResult> {
  const records: CaptureRecord[] = [];
  let scanned = 0;
  let pages = 0;
  let start: Item | undefined;
  do {
    const out = await db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    pages += 1;
    scanned += out.Items?.length ?? 0;
    for (const item of out.Items ?? []) {
      const record = toRecord(item);
      if (record && match(record)) records.push(record);
      if (records.length >= bounds.maxItems) return { records, scanned, pages, complete: false };
    }
    start = out.LastEvaluatedKey;
  } while (start && pages < bounds.maxPages);
  return { records, scanned, pages, complete: start === undefined };
}

/** The records in the sparse sweep index (PENDING captures, outcomes not yet enqueued), at most `maxItems`. */
export async function sweepIndexCaptures(
  db: DynamoDBClient,
  table: string,
  maxItems: number,
): Promise<{ records: CaptureRecord[]; complete: boolean }> {
  const keys: string[] = [];
  let complete = true;
  for (let shard = 0; shard < SWEEP_SHARDS; shard++) {
    let start: Item | undefined;
    do {
      const out = await db.send(
        new QueryCommand({
          TableName: table,
          IndexName: SWEEP_INDEX,
          KeyConditionExpression: "sweepShard = :shard",
          ExpressionAttributeValues: { ":shard": { S: `S${shard}` } },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) keys.push(item.pk!.S!);
      start = out.LastEvaluatedKey;
      if (keys.length >= maxItems) {
        complete = start === undefined && shard === SWEEP_SHARDS - 1;
        break;
      }
    } while (start);
    if (keys.length >= maxItems) break;
  }
  const records: CaptureRecord[] = [];
  const wanted = keys.slice(0, maxItems);
  for (let i = 0; i < wanted.length; i += 100) {
    const out = await batchGetAll(db, {
      [table]: { Keys: wanted.slice(i, i + 100).map((k) => ({ pk: { S: k } })) },
    });
    for (const item of out[table] ?? []) {
      const record = toRecord(item);
      if (record) records.push(record);
    }
  }
  return { records, complete };
}

/** What an operator did to a record and why (kept on the record, beside its delivery tries). */
export interface OperatorNote {
  atMs: number;
  action: string;
  reason: string;
}

/** Appends a note to a capture record; false when there is no such record. */
export async function addOperatorNote(
  db: DynamoDBClient,
  table: string,
  captureKey: string,
  note: OperatorNote,
): Promise<boolean> {
  try {
    await db.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: captureKey } },
        UpdateExpression: "SET operatorNotes = list_append(if_not_exists(operatorNotes, :empty), :note)",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: {
          ":empty": { L: [] },
          ":note": { L: [{ S: JSON.stringify(note) }] },
        },
      }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === "ConditionalCheckFailedException") return false;
    throw error;
  }
}

export async function operatorNotes(
  db: DynamoDBClient,
  table: string,
  captureKey: string,
): Promise<OperatorNote[]> {
  const out = await db.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: { S: captureKey } },
      ProjectionExpression: "operatorNotes",
      ConsistentRead: true,
    }),
  );
  return (out.Item?.operatorNotes?.L ?? []).map((n) => JSON.parse(n.S!) as OperatorNote);
}
