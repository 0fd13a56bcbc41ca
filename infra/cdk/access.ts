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

/**
 * A capture: one BatchGetItem over both tables, then the record Put (alone, or in a transaction with
 * the account debit Update and an OTP Update). ConditionCheckItem: once per account of the earlier
 * layout, the fold of its spend items into the account (ledger-store.ts).
 */
const captureAccess: FunctionAccess = {
  ledger: { actions: ["BatchGetItem", "UpdateItem", "ConditionCheckItem"] },
  captures: { actions: ["BatchGetItem", "PutItem"] },
};

/** Reading a record that owes Google a message and appending its delivery tries: no create, no delete. */
const deliveryAccess: TableAccess = { actions: ["GetItem", "UpdateItem"] };
/** The sparse sweep index, the records it names, an expiry or an enqueued mark. */
const sweepAccess: TableAccess = { actions: ["BatchGetItem", "UpdateItem"], queries: ["sweep"] };

export const FUNCTION_ACCESS: Record<FunctionName, FunctionAccess> = {
  capture: captureAccess,
  asynchronousCapture: captureAccess,
  // One BatchGetItem (the refund's key, the capture), then the refund Put with the capture's refunded
  // total and the credit (Updates); GetItem of the account only when the credit was refused; its notification marked enqueued.
  refund: {
    ledger: { actions: ["GetItem", "UpdateItem"] },
    captures: { actions: ["BatchGetItem", "UpdateItem"] },
    refunds: { actions: ["BatchGetItem", "PutItem", "UpdateItem"] },
  },
  echo: {},
  // Reads the record, the facts, then decides (record Update + debit) and marks it enqueued.
  captureOutcome: {
    ledger: { actions: ["BatchGetItem", "UpdateItem", "ConditionCheckItem"] },
    captures: { actions: ["GetItem", "UpdateItem"] },
  },
  notifier: { captures: deliveryAccess, refunds: deliveryAccess },
  // Expiring a capture moves no money: no ledger.
  sweeper: { captures: sweepAccess, refunds: sweepAccess },
  // A replay is answered from a GetItem; a new statement is one conditional Put.
  remittanceStatementNotification: { statements: { actions: ["GetItem", "PutItem"] } },
  // The statement (GetItem, Updates), the period's movements on the settlement index, the rest by key.
  reconciler: {
    captures: { actions: ["BatchGetItem"], queries: ["settlement"] },
    refunds: { actions: ["BatchGetItem"], queries: ["settlement"] },
    statements: { actions: ["GetItem", "UpdateItem"] },
  },
};

/** Actions no function is ever granted, checked at synthesis. */
export const NEVER_GRANTED = ["Scan", "DeleteItem", "BatchWriteItem"] as const;
