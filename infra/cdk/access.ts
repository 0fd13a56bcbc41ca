/**
 * The DynamoDB actions each function may take, per table: exactly what its code path sends (IAM
 * authorises a TransactWriteItems by the Put / Update / ConditionCheck inside it, and BatchGetItem
 * by itself). Nothing here grants Scan, DeleteItem or BatchWriteItem: no function sends them.
 * A function added to infra/resources.ts gets no rights until it is listed here (tsc says so).
 */
import type { FunctionName, tables } from "../resources.ts";

export type DynamoAction =
  | "BatchGetItem"
  | "GetItem"
  | "PutItem"
  | "UpdateItem"
  | "ConditionCheckItem"
  | "Query";

export interface TableAccess {
  actions: readonly DynamoAction[];
  /** Indexes it queries (dynamodb:Query on that index alone). */
  queries?: readonly string[];
}

export type FunctionAccess = Partial<Record<keyof typeof tables, TableAccess>>;

/** A capture: one BatchGetItem over both tables, then one transaction (record Put, debit Updates, instrument ConditionCheck). */
const captureAccess: FunctionAccess = {
  ledger: { actions: ["BatchGetItem", "UpdateItem", "ConditionCheckItem"] },
  captures: { actions: ["BatchGetItem", "PutItem"] },
};

export const FUNCTION_ACCESS: Record<FunctionName, FunctionAccess> = {
  capture: captureAccess,
  asynchronousCapture: captureAccess,
  // Reads the record, the facts, then decides (record Update + debit) and marks it enqueued.
  captureOutcome: {
    ledger: { actions: ["BatchGetItem", "UpdateItem", "ConditionCheckItem"] },
    captures: { actions: ["GetItem", "UpdateItem"] },
  },
  // Reads a record and appends its delivery tries: it can neither create nor delete one.
  notifier: { captures: { actions: ["GetItem", "UpdateItem"] } },
  // The sparse sweep index, the records it names, an expiry or an enqueued mark: no ledger.
  sweeper: { captures: { actions: ["BatchGetItem", "UpdateItem"], queries: ["sweep"] } },
};

/** Actions no function is ever granted, checked at synthesis. */
export const NEVER_GRANTED = ["Scan", "DeleteItem", "BatchWriteItem"] as const;
