/**
 * The one definition of every resource. The CDK stacks and the local stack are both built from
 * these declarations, so local and cloud cannot drift (ARCHITECTURE.md, decision 1).
 */

export interface KeyAttribute {
  name: string;
  type: "S" | "N";
}

export interface IndexDefinition {
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /** Only key attributes are projected: readers fetch the item itself, strongly consistent. */
  projection: "KEYS_ONLY";
}

export interface TableDefinition {
  /** Logical name; the physical name is `${prefix}${name}` (prefix per stage or per test run). */
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  indexes?: readonly IndexDefinition[];
}

/**
 * Sparse: only records the sweeper must act on carry these attributes (a PENDING capture until its
 * deadline, a notification until it is enqueued), so it never scans. Every record kind that owes Google
 * a message has it.
 */
const sweepIndex = {
  name: "sweep",
  partitionKey: { name: "sweepShard", type: "S" },
  sortKey: { name: "sweepAt", type: "N" },
  projection: "KEYS_ONLY",
} as const satisfies IndexDefinition;

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
    indexes: [sweepIndex],
  },
  /** One record per (PIAID, refund requestId): idempotency record, financial record, owed notification. */
  refunds: {
    name: "refunds",
    partitionKey: { name: "pk", type: "S" },
    indexes: [sweepIndex],
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
  timeoutSeconds: number;
  tables: readonly (keyof typeof tables)[];
  /** Queues it sends to (IAM send rights and NOTIFICATIONS_QUEUE_URL). */
  sendsTo?: readonly (keyof typeof queues)[];
  /**
   * The queue whose messages invoke it (an SQS event source with partial batch failures).
   * `maxConcurrency` caps the invocations the event source runs at once; kept at or under the
   * function's reserved concurrency, no receive is throttled, so none burns a receive count.
   */
  consumes?: { queue: keyof typeof queues; batchSize: number; maxConcurrency: number };
  /** Runs on a schedule. */
  schedule?: { everyMinutes: number };
  /** Checks OTPs (needs the OTP pepper, the HMAC key of their digests). */
  checksOtps?: boolean;
  /** Calls Google (needs its base URL and our keyrings). */
  callsGoogle?: boolean;
  /** Opens and seals Google's requests (needs our keyrings). */
  servesGoogle?: boolean;
}

export const functions = {
  capture: {
    entry: "functions/capture/handler.ts",
    memoryMb: 512,
    // Google counts a call with no answer within 7 s as failed.
    timeoutSeconds: 6,
    tables: ["ledger", "captures"],
    servesGoogle: true,
    checksOtps: true,
  },
  asynchronousCapture: {
    entry: "functions/asynchronous-capture/handler.ts",
    memoryMb: 512,
    timeoutSeconds: 6,
    tables: ["ledger", "captures"],
    servesGoogle: true,
  },
  refund: {
    entry: "functions/refund/handler.ts",
    memoryMb: 512,
    timeoutSeconds: 6,
    // The capture refunded (read, its refunded total updated), the account credited, the refund recorded.
    tables: ["ledger", "captures", "refunds"],
    sendsTo: ["notifications"],
    servesGoogle: true,
  },
  echo: {
    entry: "functions/echo/handler.ts",
    memoryMb: 256,
    timeoutSeconds: 6,
    tables: [],
    servesGoogle: true,
  },
  captureOutcome: {
    entry: "functions/capture-outcome/handler.ts",
    memoryMb: 512,
    timeoutSeconds: 10,
    tables: ["ledger", "captures"],
    sendsTo: ["notifications"],
  },
  notifier: {
    entry: "functions/notifier/handler.ts",
    memoryMb: 512,
    // Well under the queue's visibility timeout (6x, as AWS advises for SQS event sources).
    timeoutSeconds: 10,
    tables: ["captures", "refunds"],
    consumes: { queue: "notifications", batchSize: 10, maxConcurrency: 5 },
    callsGoogle: true,
  },
  sweeper: {
    entry: "functions/sweeper/handler.ts",
    memoryMb: 256,
    timeoutSeconds: 60,
    // Expiring a capture moves no money: the sweeper never touches the ledger.
    tables: ["captures", "refunds"],
    sendsTo: ["notifications"],
    schedule: { everyMinutes: 1 },
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionName = keyof typeof functions;

export interface RouteDefinition {
  method: "POST";
  path: string;
  function: FunctionName;
  /** "envelope": public, every body signed and encrypted (Google). "iam": the integrator's own systems only. */
  auth: "envelope" | "iam";
}

export const routes = [
  { method: "POST", path: "/v1/capture", function: "capture", auth: "envelope" },
  { method: "POST", path: "/v1/asynchronousCapture", function: "asynchronousCapture", auth: "envelope" },
  { method: "POST", path: "/v1/refund", function: "refund", auth: "envelope" },
  { method: "POST", path: "/v1/echo", function: "echo", auth: "envelope" },
  { method: "POST", path: "/internal/v1/captureOutcome", function: "captureOutcome", auth: "iam" },
] as const satisfies readonly RouteDefinition[];

export const tableName = (prefix: string, table: TableDefinition) => `${prefix}${table.name}`;

/** Name prefix of a deployed environment's tables and queues (CDK and the operator CLI agree on it). */
export const stagePrefix = (stage: string) => `gsp-${stage}-`;
