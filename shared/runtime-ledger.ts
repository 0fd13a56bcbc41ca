import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoCaptureStore } from "./adapters/dynamodb/capture-store.ts";
import { DynamoRefundStore } from "./adapters/dynamodb/refund-store.ts";
import { DynamoStatementStore } from "./adapters/dynamodb/statement-store.ts";
import { sqsNotificationQueue } from "./adapters/sqs/notification-queue.ts";
import { sqsStatementQueue } from "./adapters/sqs/statement-queue.ts";
import type { RuntimeConfig } from "./config.ts";
import type { AsynchronousCaptureDeps } from "./domain/asynchronous-capture-service.ts";
import type { NotificationQueue } from "./domain/capture-record.ts";
import type { RefundDeps } from "./domain/refund-service.ts";
import type { StatementDeps } from "./domain/statement-service.ts";
import type { SweepDeps } from "./domain/sweeper.ts";
import { createLogger, type Logger } from "./logging.ts";

/**
 * What every function needs, and all that the functions which neither serve nor call Google (the
 * outcome route, the sweeper) need: the store, the queue, the logger. Nothing here imports OpenPGP,
 * so their bundles carry none of it; `runtime.ts` adds the envelope, the keys and the Google client.
 */

/** Our transaction id: time-ordered (operators sort by it) and unguessable. */
export const newTransactionId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${randomBytes(9).toString("base64url")}`;
/** Our requestId for a notification (≤ 100 of the protocol's characters); `prefix` names its kind. */
export const newNotificationRequestId = (prefix = "crn") =>
  `${prefix}-${Date.now().toString(36)}-${randomBytes(9).toString("base64url")}`;

/** What every function's ledger side starts from. */
export interface LedgerBase {
  config: RuntimeConfig;
  dynamodb: DynamoDBClient;
  logger: Logger;
}

export interface LedgerDeps extends LedgerBase {
  capture: AsynchronousCaptureDeps;
  outcome: SweepDeps;
  refund: RefundDeps;
  statement: StatementDeps;
}

export interface RuntimeOverrides {
  dynamodb?: DynamoDBClient;
  sqs?: SQSClient;
  logger?: Logger;
}

const notConfigured = (setting: string) => ({
  enqueue: () => Promise.reject(new Error(`${setting} is not configured for this function`)),
});

const now = Date.now;

/*
 * One builder per capability, so a function's bundle holds only the stores and queues it uses (esbuild
 * drops the builders, and the adapters, that a handler does not reach). `ledgerDeps` composes them all,
 * for the functions that need several, the local stack and the tests.
 */

export function ledgerBase(config: RuntimeConfig, overrides: RuntimeOverrides = {}): LedgerBase {
  return {
    config,
    dynamodb: overrides.dynamodb ?? new DynamoDBClient({}),
    logger: overrides.logger ?? createLogger(),
  };
}

const storeOptions = (config: RuntimeConfig) => ({ enqueueGraceMs: config.enqueueGraceSeconds * 1000 });
export const captureStoreOf = ({ dynamodb, config }: LedgerBase) =>
  new DynamoCaptureStore(dynamodb, config.tables, storeOptions(config));
export const refundStoreOf = ({ dynamodb, config }: LedgerBase) =>
  new DynamoRefundStore(dynamodb, config.tables, storeOptions(config));

function notificationQueueOf(config: RuntimeConfig, overrides: RuntimeOverrides): NotificationQueue {
  return config.notificationsQueueUrl
    ? sqsNotificationQueue(overrides.sqs, config.notificationsQueueUrl)
    : notConfigured("NOTIFICATIONS_QUEUE_URL");
}

/** capture and asynchronousCapture: the capture store alone. */
export function captureDepsOf(base: LedgerBase, store = captureStoreOf(base)): AsynchronousCaptureDeps {
  const { config } = base;
  return {
    store,
    piaids: config.piaids,
    ledgerTimeZone: config.ledgerTimeZone,
    now,
    newTransactionId,
    captureDeadlineMs: config.captureDeadlineSeconds * 1000,
  };
}

/** Outcomes and the sweeper: both owed-notification stores and the notifications queue. */
export function outcomeDepsOf(
  base: LedgerBase,
  overrides: RuntimeOverrides = {},
  stores: { captures?: DynamoCaptureStore; refunds?: DynamoRefundStore } = {},
): SweepDeps {
  return {
    store: stores.captures ?? captureStoreOf(base),
    queue: notificationQueueOf(base.config, overrides),
    ledgerTimeZone: base.config.ledgerTimeZone,
    now,
    newRequestId: () => newNotificationRequestId(),
    refunds: stores.refunds ?? refundStoreOf(base),
  };
}

/** refund: the refund store and the notifications queue. */
export function refundDepsOf(
  base: LedgerBase,
  overrides: RuntimeOverrides = {},
  store = refundStoreOf(base),
): RefundDeps {
  const { config } = base;
  return {
    store,
    queue: notificationQueueOf(config, overrides),
    piaids: config.piaids,
    now,
    newRefundId: newTransactionId,
    ...(config.refundNotifications && { newNotificationRequestId: () => newNotificationRequestId("rrn") }),
  };
}

/** remittanceStatementNotification and the reconciler: the statement store and the statements queue. */
export function statementDepsOf(base: LedgerBase, overrides: RuntimeOverrides = {}): StatementDeps {
  const { config } = base;
  return {
    store: new DynamoStatementStore(base.dynamodb, config.tables),
    queue: config.statementsQueueUrl
      ? sqsStatementQueue(overrides.sqs, config.statementsQueueUrl)
      : notConfigured("STATEMENTS_QUEUE_URL"),
    piaids: config.piaids,
    now,
    newStatementId: newTransactionId,
    newAcceptRequestId: () => newNotificationRequestId("ars"),
  };
}

/** Every capability's deps over one base, the stores shared between them (they cache per process). */
export function ledgerCapabilities(base: LedgerBase, overrides: RuntimeOverrides = {}) {
  const stores = { captures: captureStoreOf(base), refunds: refundStoreOf(base) };
  return {
    stores,
    capture: captureDepsOf(base, stores.captures),
    outcome: outcomeDepsOf(base, overrides, stores),
    refund: refundDepsOf(base, overrides, stores.refunds),
    statement: statementDepsOf(base, overrides),
  };
}

/** The whole ledger side, built once per process from its configuration. */
export function ledgerDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}): LedgerDeps {
  const base = ledgerBase(config, overrides);
  const { stores: _, ...capabilities } = ledgerCapabilities(base, overrides);
  return { ...base, ...capabilities };
}

/** The outcome route and the sweeper: outcomes and owed notifications, no statements. */
export function outcomeLedgerDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}) {
  const base = ledgerBase(config, overrides);
  return { ...base, outcome: outcomeDepsOf(base, overrides) };
}
