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

export interface LedgerDeps {
  config: RuntimeConfig;
  dynamodb: DynamoDBClient;
  logger: Logger;
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

/** The ledger side of a function, built once per process from its configuration. */
export function ledgerDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}): LedgerDeps {
  const dynamodb = overrides.dynamodb ?? new DynamoDBClient({});
  const logger = overrides.logger ?? createLogger();
  const store = new DynamoCaptureStore(dynamodb, config.tables, {
    enqueueGraceMs: config.enqueueGraceSeconds * 1000,
  });
  const refundStore = new DynamoRefundStore(dynamodb, config.tables, {
    enqueueGraceMs: config.enqueueGraceSeconds * 1000,
  });
  const queue: NotificationQueue = config.notificationsQueueUrl
    ? sqsNotificationQueue(overrides.sqs, config.notificationsQueueUrl)
    : notConfigured("NOTIFICATIONS_QUEUE_URL");
  const statementQueue = config.statementsQueueUrl
    ? sqsStatementQueue(overrides.sqs, config.statementsQueueUrl)
    : notConfigured("STATEMENTS_QUEUE_URL");
  const now = Date.now;
  return {
    config,
    dynamodb,
    logger,
    capture: {
      store,
      piaids: config.piaids,
      ledgerTimeZone: config.ledgerTimeZone,
      now,
      newTransactionId,
      captureDeadlineMs: config.captureDeadlineSeconds * 1000,
    },
    outcome: {
      store,
      queue,
      ledgerTimeZone: config.ledgerTimeZone,
      now,
      newRequestId: () => newNotificationRequestId(),
      refunds: refundStore,
    },
    refund: {
      store: refundStore,
      queue,
      piaids: config.piaids,
      now,
      newRefundId: newTransactionId,
      ...(config.refundNotifications && { newNotificationRequestId: () => newNotificationRequestId("rrn") }),
    },
    statement: {
      store: new DynamoStatementStore(dynamodb, config.tables),
      queue: statementQueue,
      piaids: config.piaids,
      now,
      newStatementId: newTransactionId,
      newAcceptRequestId: () => newNotificationRequestId("ars"),
    },
  };
}
