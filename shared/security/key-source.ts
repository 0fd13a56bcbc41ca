import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Logger } from "../logging.ts";
import { METRICS } from "../metrics.ts";
import { daysToSoonestExpiry, type Keyring, loadKeyring } from "./keyring.ts";

/** Where the armored keyrings live: our private keys ("own") and Google's public keys ("peer"). */
export interface KeySource {
  readonly description: string;
  read(): Promise<{ own: string; peer: string }>;
}

/** Local files, as `npm start` generates them: integrator.private.asc and google.public.asc. */
export const fileKeySource = (
  dir: string,
  files = { own: "integrator.private.asc", peer: "google.public.asc" },
): KeySource => ({
  description: `files in ${dir}`,
  async read() {
    const [own, peer] = await Promise.all([
      readFile(join(dir, files.own), "utf8"),
      readFile(join(dir, files.peer), "utf8"),
    ]);
    return { own, peer };
  },
});

/** AWS Secrets Manager: each secret's SecretString is an armored keyring (several keys concatenated). */
export const secretsManagerKeySource = (
  client: SecretsManagerClient,
  ids: { own: string; peer: string },
): KeySource => ({
  description: `secrets ${ids.own} and ${ids.peer}`,
  async read() {
    const get = async (SecretId: string) => {
      const out = await client.send(new GetSecretValueCommand({ SecretId }));
      if (!out.SecretString) throw new Error(`secret ${SecretId} has no SecretString`);
      return out.SecretString;
    };
    const [own, peer] = await Promise.all([get(ids.own), get(ids.peer)]);
    return { own, peer };
  },
});

/**
 * The keyring a process uses: loaded and checked at first use (cold start), re-read after `ttlMs`
 * so a rotation (or a revocation) needs no redeploy. Each load logs and counts the keys it skipped
 * (KeysSkipped) and the days left to the soonest expiry (KeyDaysToExpiry). A failed re-read keeps
 * the keys in hand and says so in the log; a failed first read is fatal.
 */
export class CachedKeyring {
  #keyring: Keyring | undefined;
  #loadedAt = 0;
  #loading: Promise<Keyring> | undefined;
  readonly #source: KeySource;
  readonly #labels: { own: string; peer: string };
  readonly #ttlMs: number;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #metrics: Metrics;

  constructor(options: {
    source: KeySource;
    labels: { own: string; peer: string };
    ttlMs: number;
    logger?: Logger;
    now?: () => number;
    metrics?: Metrics;
  }) {
    this.#metrics =
      options.metrics ?? new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.envelopeService });
    this.#source = options.source;
    this.#labels = options.labels;
    this.#ttlMs = options.ttlMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  async get(): Promise<Keyring> {
    if (this.#keyring && this.#now() - this.#loadedAt < this.#ttlMs) return this.#keyring;
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    if (!this.#keyring) return this.#loading;
    // Serve the keys in hand while the refresh runs; the next request gets the new ones.
    this.#loading.catch(() => {});
    return this.#keyring;
  }

  /** Resolves when no refresh is under way (for operators' tooling and tests). */
  async settled(): Promise<void> {
    await this.#loading?.catch(() => {});
  }

  async #load(): Promise<Keyring> {
    try {
      const now = new Date(this.#now());
      const keyring = await loadKeyring(await this.#source.read(), this.#labels, now);
      for (const warning of keyring.warnings) this.#logger?.warn("keyring", { warning });
      for (const { reason } of keyring.skipped) this.#logger?.warn("keyring: key skipped", { reason });
      this.#metrics.addMetric(METRICS.keysSkipped, MetricUnit.Count, keyring.skipped.length);
      const days = await daysToSoonestExpiry(keyring, now);
      if (days !== undefined) this.#metrics.addMetric(METRICS.keyDaysToExpiry, MetricUnit.Count, days);
      this.#metrics.publishStoredMetrics();
      this.#keyring = keyring;
      this.#loadedAt = this.#now();
      return keyring;
    } catch (error) {
      if (!this.#keyring) throw error;
      this.#logger?.error("keyring refresh failed; keeping the keys in hand", {
        source: this.#source.description,
        error: error as Error,
      });
      this.#loadedAt = this.#now(); // try again after another TTL, not on every request
      return this.#keyring;
    }
  }
}
