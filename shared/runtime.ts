import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoCaptureStore } from "./adapters/dynamodb/capture-store.ts";
import { googleNotificationClient } from "./adapters/google/notification-client.ts";
import { sqsNotificationQueue } from "./adapters/sqs/notification-queue.ts";
import type { RuntimeConfig } from "./config.ts";
import type { AsynchronousCaptureDeps } from "./domain/asynchronous-capture-service.ts";
import type { NotificationQueue, OutcomeDeps } from "./domain/capture-outcome-service.ts";
import type { NotifierDeps } from "./domain/notifier.ts";
import { type MessageCodec, plainJsonCodec } from "./http/codec.ts";
import { createLogger, type Logger } from "./logging.ts";
import { CachedKeyring, fileKeySource, secretsManagerKeySource } from "./security/key-source.ts";
import { pgpCodec } from "./security/pgp-codec.ts";
import { tracer } from "./tracing.ts";

/** Our transaction id: time-ordered (operators sort by it) and unguessable. */
export const newTransactionId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${randomBytes(9).toString("base64url")}`;
/** Our requestId for a notification (≤ 100 of the protocol's characters). */
export const newNotificationRequestId = () =>
  `crn-${Date.now().toString(36)}-${randomBytes(9).toString("base64url")}`;

/** Our side of the envelope: our private keys and Google's public keys, re-read after the TTL. */
export function integratorKeyring(config: RuntimeConfig, logger: Logger): CachedKeyring | undefined {
  const keys = config.keys;
  // Functions that neither serve nor call Google (outcomes, sweeper) have no keys and need none.
  if (config.messageCodec === "plain-json" || !keys) return undefined;
  const source =
    keys.source === "files"
      ? fileKeySource(keys.dir)
      : secretsManagerKeySource(new SecretsManagerClient({}), {
          own: keys.ownSecretId,
          peer: keys.googleSecretId,
        });
  return new CachedKeyring({
    source,
    labels: { own: "integrator private", peer: "Google public" },
    ttlMs: config.keyringTtlSeconds * 1000,
    logger,
  });
}

export interface ServiceDeps {
  config: RuntimeConfig;
  dynamodb: DynamoDBClient;
  codec: MessageCodec;
  /** Present with the openpgp codec; `get()` it at start-up to fail fast on a bad keyring. */
  keyring: CachedKeyring | undefined;
  logger: Logger;
  capture: AsynchronousCaptureDeps;
  outcome: OutcomeDeps;
  notifier: NotifierDeps;
}

/** The keys, where a function uses them; a deployment that forgot them fails here, on first use, saying so. */
function requireKeys(keyring: CachedKeyring | undefined) {
  if (!keyring) {
    return Promise.reject(
      new Error("no keyring configured: set KEYS_DIR, or OUR_KEYS_SECRET_ID and GOOGLE_KEYS_SECRET_ID"),
    );
  }
  return keyring.get();
}

const noQueue: NotificationQueue = {
  enqueue: () => Promise.reject(new Error("NOTIFICATIONS_QUEUE_URL is not configured for this function")),
};

/** Everything a function needs, built once per process from its configuration. */
export function serviceDeps(
  config: RuntimeConfig,
  overrides: { dynamodb?: DynamoDBClient; sqs?: SQSClient; logger?: Logger } = {},
): ServiceDeps {
  const dynamodb = overrides.dynamodb ?? tracer.captureAWSv3Client(new DynamoDBClient({}));
  const logger = overrides.logger ?? createLogger();
  const keyring = integratorKeyring(config, logger);
  const store = new DynamoCaptureStore(dynamodb, config.tables, {
    enqueueGraceMs: config.enqueueGraceSeconds * 1000,
  });
  const queue = config.notificationsQueueUrl
    ? sqsNotificationQueue(
        overrides.sqs ?? tracer.captureAWSv3Client(new SQSClient({})),
        config.notificationsQueueUrl,
      )
    : noQueue;
  const now = Date.now;
  return {
    config,
    dynamodb,
    codec: config.messageCodec === "openpgp" ? pgpCodec(() => requireKeys(keyring)) : plainJsonCodec,
    keyring,
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
      newRequestId: newNotificationRequestId,
    },
    notifier: {
      store,
      now,
      google: googleNotificationClient({
        baseUrl: config.googleBaseUrl,
        keyring: () => requireKeys(keyring),
        timeoutMs: config.notify.timeoutMs,
      }),
    },
  };
}
