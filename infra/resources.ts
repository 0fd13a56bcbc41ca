/**
 * The one definition of every resource. The CDK stacks and the local stack are both built from
 * these declarations, so local and cloud cannot drift (ARCHITECTURE.md, decision 1).
 */

export interface KeyAttribute {
  name: string;
  type: "S" | "N";
}

export interface TableDefinition {
  /** Logical name; the physical name is `${prefix}${name}` (prefix per stage or per test run). */
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
}

export const tables = {
  /** Accounts, balances, spend counters, instruments, OTPs: the integrator's own ledger. */
  ledger: {
    name: "ledger",
    partitionKey: { name: "pk", type: "S" },
    sortKey: { name: "sk", type: "S" },
  },
  /** One record per (PIAID, requestId): idempotency record, financial record, outcome. */
  captures: {
    name: "captures",
    partitionKey: { name: "pk", type: "S" },
  },
} as const satisfies Record<string, TableDefinition>;

export interface QueueDefinition {
  name: string;
  visibilityTimeoutSeconds: number;
  retentionSeconds: number;
  deadLetter?: { name: string; maxReceiveCount: number; retentionSeconds: number };
}

export const queues = {
  /** captureResultNotification deliveries (identifiers only); the notifier consumes it. */
  notifications: {
    name: "notifications",
    visibilityTimeoutSeconds: 60,
    retentionSeconds: 4 * 24 * 3600,
    deadLetter: { name: "notifications-dlq", maxReceiveCount: 8, retentionSeconds: 14 * 24 * 3600 },
  },
} as const satisfies Record<string, QueueDefinition>;

export interface FunctionDefinition {
  /** Path of the handler module from the repository root; it exports `handler`. */
  entry: string;
  memoryMb: number;
  /** Google counts a call with no answer within 7 s as failed. */
  timeoutSeconds: number;
  tables: readonly (keyof typeof tables)[];
}

export const functions = {
  capture: {
    entry: "functions/capture/handler.ts",
    memoryMb: 512,
    timeoutSeconds: 6,
    tables: ["ledger", "captures"],
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionName = keyof typeof functions;

/** Google-facing routes of the HTTP API. */
export const routes = [
  { method: "POST", path: "/v1/capture", function: "capture" },
] as const satisfies readonly {
  method: string;
  path: string;
  function: FunctionName;
}[];

export const tableName = (prefix: string, table: TableDefinition) => `${prefix}${table.name}`;
