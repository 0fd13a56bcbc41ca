import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { DynamoCaptureStore } from "./adapters/dynamodb/capture-store.ts";
import type { DynamoRefundStore } from "./adapters/dynamodb/refund-store.ts";
import { googleCaller } from "./adapters/google/google-client.ts";
import { googleNotificationClient } from "./adapters/google/notification-client.ts";
import type { RuntimeConfig } from "./config.ts";
import type { AsynchronousCaptureDeps } from "./domain/asynchronous-capture-service.ts";
import type { NotifierDeps } from "./domain/notifier.ts";
import type { ReconcilerDeps } from "./domain/reconciler.ts";
import type { StatementDeps } from "./domain/statement-service.ts";
import { type MessageCodec, plainJsonCodec } from "./http/codec.ts";
import type { Logger } from "./logging.ts";
import {
  captureDepsOf,
  captureStoreOf,
  type LedgerBase,
  type LedgerDeps,
  ledgerBase,
  ledgerCapabilities,
  newNotificationRequestId,
  type RuntimeOverrides,
  refundDepsOf,
  refundStoreOf,
  statementDepsOf,
} from "./runtime-ledger.ts";
import { CachedKeyring, fileKeySource, secretsManagerKeySource } from "./security/key-source.ts";
import { otpPepperSource } from "./security/otp-pepper.ts";
import { pgpCodec } from "./security/pgp-codec.ts";

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

/** What the Google-facing edge needs: the codec (with its keys), the logger, the configuration. */
export interface EdgeDeps extends LedgerBase {
  codec: MessageCodec;
  /** Present with the openpgp codec; `get()` it at start-up to fail fast on a bad keyring. */
  keyring: CachedKeyring | undefined;
}

export interface ServiceDeps extends LedgerDeps, EdgeDeps {
  notifier: NotifierDeps;
  reconciler: ReconcilerDeps;
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

function edgeOf(base: LedgerBase): EdgeDeps {
  const keyring = integratorKeyring(base.config, base.logger);
  const codec =
    base.config.messageCodec === "openpgp" ? pgpCodec(() => requireKeys(keyring)) : plainJsonCodec;
  return { ...base, codec, keyring };
}

/** How we call Google (notifications, statement details, the accept), with our keys. */
function googleOf(edge: EdgeDeps) {
  return {
    baseUrl: edge.config.googleBaseUrl,
    keyring: () => requireKeys(edge.keyring),
    timeoutMs: edge.config.notify.timeoutMs,
  };
}

/** Capture deps with the OTP pepper, where one is configured (captures that carry an OTP need it). */
function withOtpPepper(capture: AsynchronousCaptureDeps, config: RuntimeConfig): AsynchronousCaptureDeps {
  const otpPepper = config.otpPepper && otpPepperSource(config.otpPepper, () => new SecretsManagerClient({}));
  return { ...capture, ...(otpPepper && { otpPepper }) };
}

function notifierOf(
  edge: EdgeDeps,
  stores: { captures: DynamoCaptureStore; refunds: DynamoRefundStore },
): NotifierDeps {
  return {
    store: stores.captures,
    refunds: stores.refunds,
    now: Date.now,
    google: googleNotificationClient(googleOf(edge)),
  };
}

function reconcilerOf(edge: EdgeDeps, statement: StatementDeps): ReconcilerDeps {
  return {
    store: statement.store,
    callGoogle: googleCaller(googleOf(edge)),
    ledgerTimeZone: edge.config.ledgerTimeZone,
    acceptance: edge.config.statementAcceptance,
    now: Date.now,
    newRequestId: () => newNotificationRequestId("rsd"),
  };
}

/*
 * One builder per function, each reaching only the stores, queues and clients that function uses, so its
 * bundle holds nothing else (the test in test/cdk/stack.test.ts checks the SQS client; the bench measures
 * the bundles). `serviceDeps` builds them all, for the local stack and the tests.
 */

/** capture and asynchronousCapture. */
export function captureServiceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}) {
  const edge = edgeOf(ledgerBase(config, overrides));
  return { ...edge, capture: withOtpPepper(captureDepsOf(edge), config) };
}

/** refund. */
export function refundServiceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}) {
  const edge = edgeOf(ledgerBase(config, overrides));
  return { ...edge, refund: refundDepsOf(edge, overrides) };
}

/** remittanceStatementNotification. */
export function statementServiceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}) {
  const edge = edgeOf(ledgerBase(config, overrides));
  return { ...edge, statement: statementDepsOf(edge, overrides) };
}

/** echo: the edge alone, no ledger access. */
export function echoServiceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}): EdgeDeps {
  return edgeOf(ledgerBase(config, overrides));
}

/** The notifier: both owed-notification stores and the Google client. */
export function notifierServiceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}) {
  const edge = edgeOf(ledgerBase(config, overrides));
  return {
    ...edge,
    notifier: notifierOf(edge, { captures: captureStoreOf(edge), refunds: refundStoreOf(edge) }),
  };
}

/** The reconciler: the statement store and the Google client. */
export function reconcilerServiceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}) {
  const edge = edgeOf(ledgerBase(config, overrides));
  return { ...edge, reconciler: reconcilerOf(edge, statementDepsOf(edge, overrides)) };
}

/** Everything (the ledger side plus the envelope, keys and Google clients), built once per process. */
export function serviceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}): ServiceDeps {
  const edge = edgeOf(ledgerBase(config, overrides));
  const { stores, ...ledger } = ledgerCapabilities(edge, overrides);
  return {
    ...edge,
    ...ledger,
    capture: withOtpPepper(ledger.capture, config),
    notifier: notifierOf(edge, stores),
    reconciler: reconcilerOf(edge, ledger.statement),
  };
}
