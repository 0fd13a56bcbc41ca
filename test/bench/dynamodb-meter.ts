import {
  type AttributeValue,
  type ConsumedCapacity,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  type TransactWriteItem,
} from "@aws-sdk/client-dynamodb";
import { LOCAL_AWS } from "../../infra/local/emulators.ts";
import { countingClient as recordingClient } from "../../infra/local/stack.ts";

/**
 * DynamoDB request metering for benchmarks. Two clients:
 * - `countingClient`: records each command's name (cheap; used while timing).
 * - `capacityClient`: also asks for `ReturnConsumedCapacity: "TOTAL"`, sums what DynamoDB Local reports,
 *   and computes the capacity real DynamoDB bills from item sizes with the published rules
 *   (it reads each written item before and after, through a separate client: never used while timing).
 */

type Item = Record<string, AttributeValue>;

export interface MeteredCall {
  command: string;
  /** Sum of ConsumedCapacity.CapacityUnits as DynamoDB Local reported it (undefined: none returned). */
  reported: number | undefined;
  /** Read / write request units by DynamoDB's published rules, from the sizes of the items involved. */
  rru: number;
  wru: number;
  /** The part of `wru` spent on global secondary indexes (the sweep and settlement indexes). */
  indexWru: number;
  /** Largest item this call read or wrote, bytes (DynamoDB item size rules). */
  largestItem: number;
  failed: boolean;
}

export interface Meter {
  calls: MeteredCall[];
  reset(): void;
}

/** A client on DynamoDB Local that records its commands (the local stack's own recorder). */
export function countingClient(endpoint: string): { client: DynamoDBClient; commands: string[] } {
  const commands: string[] = [];
  return { client: recordingClient(endpoint, commands), commands };
}

const CAPACITY_COMMANDS = new Set([
  "BatchGetItemCommand",
  "TransactWriteItemsCommand",
  "GetItemCommand",
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
]);

export function capacityClient(endpoint: string): { client: DynamoDBClient; meter: Meter } {
  const meter: Meter = {
    calls: [],
    reset() {
      this.calls.length = 0;
    },
  };
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  const sizes = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  const itemAt = async (TableName: string, Key: Item) =>
    (await sizes.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }))).Item;
  const tables = new Map<string, Promise<TableInfo>>();
  const tableInfo = (TableName: string) => {
    let known = tables.get(TableName);
    if (!known) {
      known = sizes.send(new DescribeTableCommand({ TableName })).then((d) => ({
        keyNames: (d.Table?.KeySchema ?? []).map((k) => k.AttributeName!),
        indexes: (d.Table?.GlobalSecondaryIndexes ?? []).map((g) =>
          (g.KeySchema ?? []).map((k) => k.AttributeName!),
        ),
      }));
      tables.set(TableName, known);
    }
    return known;
  };

  // Asking for the capacity: a top-level input member, the same for plain and Document-client commands.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (CAPACITY_COMMANDS.has(context.commandName as string))
        (args.input as Record<string, unknown>).ReturnConsumedCapacity = "TOTAL";
      return next(args);
    },
    { step: "initialize", name: "benchAskCapacity" },
  );
  // Metering after serialisation, on the wire form of the request (Document-client commands are marshalled by then).
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName as string;
      const body = (args.request as { body?: unknown }).body;
      const text =
        typeof body === "string" ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : "";
      if (!text) throw new Error(`cannot meter ${command}: its serialised request body is not JSON text`);
      const input = JSON.parse(text) as Record<string, unknown>;
      const writes = await writeTargets(command, input, tableInfo);
      const reads = readTargets(command, input);
      const before = await Promise.all(writes.map((w) => itemAt(w.table, w.key)));
      const readItems = await Promise.all(reads.map((r) => itemAt(r.table, r.key)));
      let result: Awaited<ReturnType<typeof next>> | undefined;
      let failure: unknown;
      try {
        result = await next(args);
      } catch (error) {
        failure = error;
      }
      const after = await Promise.all(writes.map((w) => itemAt(w.table, w.key)));
      const consumed = (
        result?.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] } | undefined
      )?.ConsumedCapacity;
      const reported = consumed === undefined ? undefined : Array.isArray(consumed) ? consumed : [consumed];
      let rru = 0;
      let wru = 0;
      let indexWru = 0;
      let largest = 0;
      for (const [i, r] of reads.entries()) {
        const size = readItems[i] ? itemSize(readItems[i]) : 0;
        largest = Math.max(largest, size);
        // Per key, rounded up to 4 KB; a key that finds no item still costs one read.
        rru += Math.max(1, Math.ceil(size / 4096)) * (r.consistent ? 1 : 0.5);
      }
      for (const [i, w] of writes.entries()) {
        const old = before[i];
        const now = after[i];
        const size = Math.max(old ? itemSize(old) : 0, now ? itemSize(now) : 0, w.newItemSize ?? 0);
        largest = Math.max(largest, size);
        wru += Math.max(1, Math.ceil(size / 1024)) * (w.transactional ? 2 : 1);
        // A global secondary index is written when the item enters, leaves or moves in it (KEYS_ONLY: 1 WRU each).
        if (w.kind === "ConditionCheck") continue;
        for (const keyNames of (await tableInfo(w.table)).indexes) {
          const inIndex = (item: Item | undefined) => item !== undefined && keyNames.every((k) => item[k]);
          const keyOf = (item: Item | undefined) => JSON.stringify(keyNames.map((k) => item?.[k]));
          if (inIndex(old) && inIndex(now)) indexWru += keyOf(old) === keyOf(now) ? 0 : 2;
          else if (inIndex(old) || inIndex(now)) indexWru += 1;
        }
      }
      wru += indexWru;
      meter.calls.push({
        command,
        reported: reported?.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0),
        rru,
        wru,
        indexWru,
        largestItem: largest,
        failed: failure !== undefined,
      });
      if (failure !== undefined || result === undefined) throw failure;
      return result;
    },
    { step: "build", name: "benchCapacityMeter" },
  );
  // The meter's size reads are its own business: destroy them with the client.
  const destroy = client.destroy.bind(client);
  client.destroy = () => {
    sizes.destroy();
    destroy();
  };
  return { client, meter };
}

interface TableInfo {
  keyNames: string[];
  indexes: string[][];
}

interface ReadTarget {
  table: string;
  key: Item;
  consistent: boolean;
}

function readTargets(command: string, input: Record<string, unknown>): ReadTarget[] {
  if (command === "GetItemCommand")
    return [
      { table: input.TableName as string, key: input.Key as Item, consistent: input.ConsistentRead === true },
    ];
  if (command === "BatchGetItemCommand") {
    const requests = input.RequestItems as Record<string, { Keys: Item[]; ConsistentRead?: boolean }>;
    return Object.entries(requests).flatMap(([table, r]) =>
      r.Keys.map((key) => ({ table, key, consistent: r.ConsistentRead === true })),
    );
  }
  return [];
}

interface WriteTarget {
  kind: "Put" | "Update" | "Delete" | "ConditionCheck";
  table: string;
  key: Item;
  newItemSize?: number;
  transactional: boolean;
}

/** The items a write command touches (a Put's key: its item's key attributes, by the table's key schema). */
async function writeTargets(
  command: string,
  input: Record<string, unknown>,
  tableInfo: (table: string) => Promise<TableInfo>,
): Promise<WriteTarget[]> {
  const putKey = async (table: string, item: Item): Promise<Item> =>
    Object.fromEntries((await tableInfo(table)).keyNames.map((k) => [k, item[k]!]));
  switch (command) {
    case "PutItemCommand": {
      const table = input.TableName as string;
      const item = input.Item as Item;
      return [
        {
          kind: "Put",
          table,
          key: await putKey(table, item),
          newItemSize: itemSize(item),
          transactional: false,
        },
      ];
    }
    case "UpdateItemCommand":
    case "DeleteItemCommand":
      return [
        {
          kind: command === "UpdateItemCommand" ? "Update" : "Delete",
          table: input.TableName as string,
          key: input.Key as Item,
          transactional: false,
        },
      ];
    case "TransactWriteItemsCommand":
      return Promise.all(
        (input.TransactItems as TransactWriteItem[]).map(async (t): Promise<WriteTarget> => {
          if (t.Put)
            return {
              kind: "Put",
              table: t.Put.TableName!,
              key: await putKey(t.Put.TableName!, t.Put.Item!),
              newItemSize: itemSize(t.Put.Item!),
              transactional: true,
            };
          const kind = t.Update ? "Update" : t.Delete ? "Delete" : "ConditionCheck";
          const op = t.Update ?? t.Delete ?? t.ConditionCheck!;
          // A ConditionCheck is billed as a transactional write of the item it checks.
          return { kind, table: op.TableName!, key: op.Key!, transactional: true };
        }),
      );
    default:
      return [];
  }
}

/**
 * Item size by DynamoDB's published rules: attribute name bytes + value bytes; strings UTF-8 bytes;
 * numbers 1 byte per 2 significant digits + 1; booleans and nulls 1; lists and maps 3 bytes + 1 per
 * element + their contents (a map's element includes its name).
 */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  // On the wire a binary is base64 text; its size is that of the bytes.
  const bytes = (b: Uint8Array | string) =>
    typeof b === "string" ? Buffer.from(b, "base64").length : b.length;
  if (v.B !== undefined) return bytes(v.B);
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((s, x) => s + Buffer.byteLength(x), 0);
  if (v.NS !== undefined) return v.NS.reduce((s, x) => s + numberSize(x), 0);
  if (v.BS !== undefined) return v.BS.reduce((s, x) => s + bytes(x), 0);
  if (v.L !== undefined) return 3 + v.L.reduce((s, x) => s + 1 + valueSize(x), 0);
  if (v.M !== undefined)
    return 3 + Object.entries(v.M).reduce((s, [k, x]) => s + 1 + Buffer.byteLength(k) + valueSize(x), 0);
  return 0;
}

function numberSize(n: string): number {
  const digits = n.replace(/^-/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}
