import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { googleNotificationClient } from "./adapters/google/notification-client.ts";
import type { RuntimeConfig } from "./config.ts";
import type { NotifierDeps } from "./domain/notifier.ts";
import { type MessageCodec, plainJsonCodec } from "./http/codec.ts";
import type { Logger } from "./logging.ts";
import { type LedgerDeps, ledgerDeps, type RuntimeOverrides } from "./runtime-ledger.ts";
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

export interface ServiceDeps extends LedgerDeps {
  codec: MessageCodec;
  /** Present with the openpgp codec; `get()` it at start-up to fail fast on a bad keyring. */
  keyring: CachedKeyring | undefined;
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

/** Everything a Google-facing function needs (the ledger side plus the envelope and keys), built once per process. */
export function serviceDeps(config: RuntimeConfig, overrides: RuntimeOverrides = {}): ServiceDeps {
  const ledger = ledgerDeps(config, overrides);
  const keyring = integratorKeyring(config, ledger.logger);
  const otpPepper = config.otpPepper && otpPepperSource(config.otpPepper, () => new SecretsManagerClient({}));
  return {
    ...ledger,
    capture: { ...ledger.capture, ...(otpPepper && { otpPepper }) },
    codec: config.messageCodec === "openpgp" ? pgpCodec(() => requireKeys(keyring)) : plainJsonCodec,
    keyring,
    notifier: {
      store: ledger.outcome.store,
      refunds: ledger.refund.store,
      now: ledger.outcome.now,
      google: googleNotificationClient({
        baseUrl: config.googleBaseUrl,
        keyring: () => requireKeys(keyring),
        timeoutMs: config.notify.timeoutMs,
      }),
    },
  };
}
