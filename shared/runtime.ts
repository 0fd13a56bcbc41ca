import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DynamoCaptureStore } from "./adapters/dynamodb/capture-store.ts";
import type { RuntimeConfig } from "./config.ts";
import type { CaptureDeps } from "./domain/capture-service.ts";
import { type MessageCodec, plainJsonCodec } from "./http/codec.ts";
import { createLogger, type Logger } from "./logging.ts";
import { CachedKeyring, fileKeySource, secretsManagerKeySource } from "./security/key-source.ts";
import { pgpCodec } from "./security/pgp-codec.ts";

/** Our transaction id: time-ordered (operators sort by it) and unguessable. */
export const newTransactionId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${randomBytes(9).toString("base64url")}`;

/** Our side of the envelope: our private keys and Google's public keys, re-read after the TTL. */
export function integratorKeyring(config: RuntimeConfig, logger: Logger): CachedKeyring | undefined {
  if (config.messageCodec === "plain-json") return undefined;
  const keys = config.keys;
  if (!keys) throw new Error("invalid configuration: the openpgp codec needs a keys location");
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
  capture: CaptureDeps;
}

/** Everything a function needs, built once per process from its configuration. */
export function serviceDeps(
  config: RuntimeConfig,
  overrides: { dynamodb?: DynamoDBClient; logger?: Logger } = {},
): ServiceDeps {
  const dynamodb = overrides.dynamodb ?? new DynamoDBClient({});
  const logger = overrides.logger ?? createLogger();
  const keyring = integratorKeyring(config, logger);
  return {
    config,
    dynamodb,
    codec: keyring ? pgpCodec(() => keyring.get()) : plainJsonCodec,
    keyring,
    logger,
    capture: {
      store: new DynamoCaptureStore(dynamodb, config.tables),
      piaids: config.piaids,
      ledgerTimeZone: config.ledgerTimeZone,
      now: Date.now,
      newTransactionId,
    },
  };
}
