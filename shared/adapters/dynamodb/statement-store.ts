import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandOutput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { Reconciliation } from "../../domain/reconciliation.ts";
import { bucketsOf, type Movement, settlementBucket } from "../../domain/reconciliation.ts";
import type {
  Acceptance,
  StatementRecord,
  StatementState,
  StatementStore,
  StatementWriteOutcome,
} from "../../domain/statement-service.ts";
import { type Item, N, S } from "./items.ts";
import { batchGetAll } from "./owed-notifications.ts";

export interface StatementTables {
  captures: string;
  refunds: string;
  statements: string;
}

const SETTLEMENT_INDEX = "settlement";
/**
 * The sparse settlement index's attributes, on a capture or refund that moved money at `movedAtMs`
 * (infra/resources.ts): what movementsIn queries by PIAID and day. Undefined when it moved none.
 */
export function settlementMarker(piaid: string, movedAtMs: number | undefined) {
  return movedAtMs === undefined
    ? undefined
    : { settleDay: S(settlementBucket(piaid, movedAtMs)), settleAt: N(movedAtMs) };
}

/** Discrepancies kept on the record (an item is at most 400 KB); `statements export` runs it again for all. */
export const STORED_DISCREPANCIES = 500;

/**
 * Statements and what reconciliation reads of captures and refunds. A billing period is one Query per
 * table per UTC day it touches on the sparse settlement index, whose projection holds all it compares.
 */
export class DynamoStatementStore implements StatementStore {
  readonly #db: DynamoDBClient;
  readonly #tables: StatementTables;

  constructor(db: DynamoDBClient, tables: StatementTables) {
    this.#db = db;
    this.#tables = tables;
  }

  async get(key: string): Promise<StatementRecord | undefined> {
    const out = await this.#db.send(
      new GetItemCommand({ TableName: this.#tables.statements, Key: { pk: S(key) }, ConsistentRead: true }),
    );
    return out.Item ? itemToStatement(out.Item) : undefined;
  }

  async create(record: StatementRecord): Promise<StatementWriteOutcome> {
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#tables.statements,
          Item: statementToItem(record),
          ConditionExpression: "attribute_not_exists(pk)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { kind: "COMMITTED" };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { kind: "KEY_TAKEN", record: error.Item ? itemToStatement(error.Item) : undefined };
    }
  }

  /** One conditional Update; false when the statement is gone or already accepted. */
  async #update(key: string, set: string, values: Item, remove = "", condition = ""): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#tables.statements,
          Key: { pk: S(key) },
          UpdateExpression: `SET ${set}${remove && ` REMOVE ${remove}`}`,
          ConditionExpression: `attribute_exists(pk) AND #state <> :accepted${condition && ` AND ${condition}`}`,
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":accepted": S("ACCEPTED"), ...values },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  saveReconciliation(key: string, r: Reconciliation, state: StatementState, atMs: number) {
    return this.#update(
      key,
      "#state = :state, reconciliation = :r, reconciledAtMs = :at",
      { ":state": S(state), ":r": S(JSON.stringify(storedReconciliation(r))), ":at": N(atMs) },
      "refusal",
    );
  }

  saveRefusal(key: string, reason: string, atMs: number) {
    return this.#update(key, "#state = :state, refusal = :refusal", {
      ":state": S("DETAILS_REFUSED"),
      ":refusal": S(JSON.stringify({ atMs, reason })),
    });
  }

  saveAccepted(key: string, acceptance: Acceptance) {
    return this.#update(key, "#state = :state, acceptance = :acceptance", {
      ":state": S("ACCEPTED"),
      ":acceptance": S(JSON.stringify(acceptance)),
    });
  }

  /** Over the acceptance as the caller read it, only if it is still that (a concurrent accept wins): no second read. */
  async saveAcceptError(
    statement: Pick<StatementRecord, "key" | "acceptance">,
    error: string,
  ): Promise<void> {
    await this.#update(
      statement.key,
      "acceptance = :acceptance",
      {
        ":acceptance": S(JSON.stringify({ ...statement.acceptance, lastError: error })),
        ":read": S(JSON.stringify(statement.acceptance)),
      },
      "",
      "acceptance = :read",
    );
  }

  async movementsIn(piaid: string, fromMs: number, toMs: number): Promise<Movement[]> {
    const out: Movement[] = [];
    for (const [table, kind] of [
      [this.#tables.captures, "CAPTURE"],
      [this.#tables.refunds, "REFUND"],
    ] as const) {
      for (const bucket of bucketsOf(piaid, fromMs, toMs)) {
        let start: QueryCommandOutput["LastEvaluatedKey"];
        do {
          const page: QueryCommandOutput = await this.#db.send(
            new QueryCommand({
              TableName: table,
              IndexName: SETTLEMENT_INDEX,
              KeyConditionExpression: "settleDay = :day AND settleAt BETWEEN :from AND :to",
              ExpressionAttributeValues: { ":day": S(bucket), ":from": N(fromMs), ":to": N(toMs - 1) },
              ...(start && { ExclusiveStartKey: start }),
            }),
          );
          for (const item of page.Items ?? []) out.push(itemToMovement(item, kind));
          start = page.LastEvaluatedKey;
        } while (start);
      }
    }
    return out;
  }

  async movementsByKey(captureKeys: string[], refundKeys: string[]): Promise<Map<string, Movement>> {
    const found = new Map<string, Movement>();
    const wanted = [
      ...captureKeys.map((k) => [this.#tables.captures, k] as const),
      ...refundKeys.map((k) => [this.#tables.refunds, k] as const),
    ];
    // BatchGetItem takes 100 keys at a time; only what moved money is a movement.
    for (let i = 0; i < wanted.length; i += 100) {
      const chunk = wanted.slice(i, i + 100);
      const request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> = {};
      for (const [table, k] of chunk) {
        request[table] ??= { Keys: [], ConsistentRead: true };
        request[table].Keys.push({ pk: S(k) });
      }
      const out = await batchGetAll(this.#db, request);
      for (const [table, kind] of [
        [this.#tables.captures, "CAPTURE"],
        [this.#tables.refunds, "REFUND"],
      ] as const) {
        for (const item of out[table] ?? []) {
          if (item.settleAt?.N === undefined) continue;
          found.set(`${kind}|${item.pk!.S!}`, itemToMovement(item, kind));
        }
      }
    }
    return found;
  }

  /** For operators only (a handful of statements a day): never on a function's path. */
  async list(state?: StatementState): Promise<StatementRecord[]> {
    const out: StatementRecord[] = [];
    let start: ScanCommandOutput["LastEvaluatedKey"];
    do {
      const page: ScanCommandOutput = await this.#db.send(
        new ScanCommand({ TableName: this.#tables.statements, ...(start && { ExclusiveStartKey: start }) }),
      );
      for (const item of page.Items ?? []) out.push(itemToStatement(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out.filter((s) => !state || s.state === state).sort((a, b) => b.receivedAtMs - a.receivedAtMs);
  }
}

const itemToMovement = (item: Item, kind: "CAPTURE" | "REFUND"): Movement => ({
  kind,
  key: item.pk!.S!,
  requestId: item.requestId!.S!,
  ourId: (kind === "CAPTURE" ? item.paymentIntegratorTransactionId : item.paymentIntegratorRefundId)!.S!,
  amount: BigInt(item.amount!.N!),
  currencyCode: item.currencyCode!.S!,
  movedAtMs: Number(item.settleAt!.N!),
});

const storedReconciliation = (r: Reconciliation): Reconciliation => ({
  ...r,
  discrepancies: r.discrepancies.slice(0, STORED_DISCREPANCIES),
});

export function statementToItem(r: StatementRecord): Item {
  return {
    pk: S(r.key),
    paymentIntegratorAccountId: S(r.paymentIntegratorAccountId),
    statementId: S(r.statementId),
    fingerprint: S(r.fingerprint),
    paymentIntegratorStatementId: S(r.paymentIntegratorStatementId),
    response: S(JSON.stringify(r.response)),
    summary: S(
      JSON.stringify({ ...r.summary, totalDueByIntegrator: r.summary.totalDueByIntegrator.toString() }),
    ),
    state: S(r.state),
    receivedAtMs: N(r.receivedAtMs),
    acceptance: S(JSON.stringify(r.acceptance)),
    ...(r.reconciliation && { reconciliation: S(JSON.stringify(storedReconciliation(r.reconciliation))) }),
    ...(r.reconciledAtMs !== undefined && { reconciledAtMs: N(r.reconciledAtMs) }),
    ...(r.refusal && { refusal: S(JSON.stringify(r.refusal)) }),
  };
}

export function itemToStatement(item: Item): StatementRecord {
  const summary = JSON.parse(item.summary!.S!);
  return {
    key: item.pk!.S!,
    paymentIntegratorAccountId: item.paymentIntegratorAccountId!.S!,
    statementId: item.statementId!.S!,
    fingerprint: item.fingerprint!.S!,
    paymentIntegratorStatementId: item.paymentIntegratorStatementId!.S!,
    response: JSON.parse(item.response!.S!),
    summary: { ...summary, totalDueByIntegrator: BigInt(summary.totalDueByIntegrator) },
    state: item.state!.S! as StatementState,
    receivedAtMs: Number(item.receivedAtMs!.N!),
    acceptance: JSON.parse(item.acceptance!.S!),
    ...(item.reconciliation?.S && { reconciliation: JSON.parse(item.reconciliation.S) }),
    ...(item.reconciledAtMs?.N && { reconciledAtMs: Number(item.reconciledAtMs.N) }),
    ...(item.refusal?.S && { refusal: JSON.parse(item.refusal.S) }),
  };
}
