/**
 * `npm start`: the whole service on this machine. Every setting it reads is in the README's
 * settings table ("Set-up"); a value it cannot use stops it with one sentence naming the setting.
 * To run against emulators and a Google that outlive this process (as DynamoDB, SQS and Google
 * outlive a Lambda): DYNAMODB_ENDPOINT, SQS_ENDPOINT, TABLE_PREFIX, LEDGER_SEED=none, GOOGLE_BASE_URL.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { KeyringError } from "../../shared/security/keyring.ts";
import { MissingJavaError } from "./emulators.ts";
import { ensureLocalKeys, KEY_FILES, type LocalKeys, LocalKeysError } from "./keys.ts";
import {
  DEFAULT_PIAIDS,
  DEFAULT_SWEEP_INTERVAL_MS,
  DEMO_LEDGER,
  type LocalStackOptions,
  startLocalStack,
} from "./stack.ts";
import { type StackFile, stackFilePath } from "./stack-file.ts";

const LOCAL_DIR = resolve(import.meta.dirname, "../../.local");

/** A setting that cannot be used as given. */
class SettingError extends Error {}

const env = process.env;

/** An on/off setting; anything else stops start-up with one sentence. */
function onOffSetting(name: string): boolean {
  const value = env[name];
  if (value !== "on" && value !== "off") {
    console.error(`${name} must be "on" or "off", not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return value === "on";
}
/** A number setting, checked: `undefined` when unset. */
function numberSetting(name: string, min: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min)
    throw new SettingError(`${name} must be a number of at least ${min}, not "${text}".`);
  return value;
}
function urlSetting(name: string): string | undefined {
  const text = env[name];
  if (!text) return undefined;
  if (!URL.canParse(text)) throw new SettingError(`${name} must be a URL, not "${text}".`);
  return text;
}
function piaidsSetting(): Record<string, string> {
  if (!env.PIAIDS) return DEFAULT_PIAIDS;
  try {
    const value = JSON.parse(env.PIAIDS) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, string>;
  } catch {}
  throw new SettingError(
    `PIAIDS must be a JSON object of PIAID → currency, like ${JSON.stringify(DEFAULT_PIAIDS)}.`,
  );
}

/** One line on where captureResultNotifications go, so nobody wonders whether Google is being called. */
function notificationsLine(
  googleUrl: string | undefined,
  baseUrl: string,
  keys: LocalKeys | undefined,
): string {
  if (googleUrl) return `notifications go to the stand-in Google at ${googleUrl}`;
  const why = env.GOOGLE_BASE_URL
    ? "GOOGLE_BASE_URL"
    : keys && !keys.standIn
      ? `no stand-in Google: ${keys.noStandInBecause}`
      : "no stand-in Google with the plain-json codec";
  return `notifications go to ${baseUrl} (${why})`;
}

try {
  const codec = env.MESSAGE_CODEC ?? "openpgp";
  if (codec !== "openpgp" && codec !== "plain-json")
    throw new SettingError(`MESSAGE_CODEC must be "openpgp" or "plain-json", not "${codec}".`);
  const stackFile = stackFilePath();
  const keysDir = resolve(env.KEYS_DIR ?? resolve(LOCAL_DIR, "keys"));
  const sweepIntervalMs = numberSetting("SWEEP_INTERVAL_MS", 0);
  const captureDeadlineSeconds = numberSetting("CAPTURE_DEADLINE_SECONDS", 1);
  const enqueueGraceSeconds = numberSetting("ENQUEUE_GRACE_SECONDS", 0);
  const keyringTtlSeconds = numberSetting("KEYRING_TTL_SECONDS", 0);
  const notify = {
    backoffBaseSeconds: numberSetting("NOTIFY_BACKOFF_BASE_SECONDS", 0),
    backoffCapSeconds: numberSetting("NOTIFY_BACKOFF_CAP_SECONDS", 0),
    timeoutMs: numberSetting("NOTIFY_TIMEOUT_MS", 1),
  };
  const googleBaseUrl = urlSetting("GOOGLE_BASE_URL");
  const options: LocalStackOptions = {
    messageCodec: codec,
    keysDir,
    port: numberSetting("PORT", 0) ?? 3000,
    piaids: piaidsSetting(),
    ...(env.LOCAL_PERSIST === "1" && { dataDir: resolve(LOCAL_DIR, "data") }),
    ...(env.LEDGER_SEED !== "none" && { ledgerSeed: env.LEDGER_SEED || DEMO_LEDGER }),
    ...(env.DYNAMODB_ENDPOINT && { dynamodbEndpoint: urlSetting("DYNAMODB_ENDPOINT")! }),
    ...(env.SQS_ENDPOINT && { sqsEndpoint: urlSetting("SQS_ENDPOINT")! }),
    ...(env.TABLE_PREFIX && { prefix: env.TABLE_PREFIX }),
    ...(googleBaseUrl && { googleBaseUrl }),
    ...(env.OUTCOME_API_TOKEN && { outcomeToken: env.OUTCOME_API_TOKEN }),
    ...(env.LEDGER_TIME_ZONE && { ledgerTimeZone: env.LEDGER_TIME_ZONE }),
    ...(sweepIntervalMs !== undefined && { sweepIntervalMs }),
    ...(captureDeadlineSeconds !== undefined && { captureDeadlineSeconds }),
    ...(enqueueGraceSeconds !== undefined && { enqueueGraceSeconds }),
    ...(keyringTtlSeconds !== undefined && { keyringTtlSeconds }),
    ...(env.REFUND_NOTIFICATIONS && { refundNotifications: onOffSetting("REFUND_NOTIFICATIONS") }),
    notify: Object.fromEntries(Object.entries(notify).filter(([, value]) => value !== undefined)),
  };

  let keys: LocalKeys | undefined;
  if (codec === "openpgp") {
    keys = await ensureLocalKeys(keysDir);
    if (keys.written.length > 0) console.log(`wrote in ${keysDir}: ${keys.written.join("; ")}`);
    options.standInGoogle = keys.standIn;
  }
  const stack = await startLocalStack(options);
  mkdirSync(dirname(stackFile), { recursive: true });
  // Where the operator CLI and `npm run google` find the running stack.
  writeFileSync(
    stackFile,
    JSON.stringify(
      {
        url: stack.url,
        endpoints: stack.endpoints,
        tables: stack.config.tables,
        // resources.ts gives the notifications queue its DLQ, so the local stack always has both.
        queues: stack.queues as StackFile["queues"],
        ...(stack.config.otpPepper?.source === "file" && { otpPepperFile: stack.config.otpPepper.path }),
        outcomeToken: stack.outcomeToken,
        messageCodec: codec,
        ...(codec === "openpgp" && { keysDir }),
        googleBaseUrl: stack.config.googleBaseUrl,
        piaids: stack.config.piaids,
        ledgerTimeZone: stack.config.ledgerTimeZone,
        statementAcceptance: stack.config.statementAcceptance,
        standInGoogle: stack.google !== undefined,
        // What `ops captures show` needs to say when the next try comes.
        schedule: {
          backoffBaseSeconds: stack.config.notify.backoffBaseSeconds,
          backoffCapSeconds: stack.config.notify.backoffCapSeconds,
          enqueueGraceSeconds: stack.config.enqueueGraceSeconds,
          sweepEverySeconds: (sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS) / 1000,
        },
      } satisfies StackFile,
      null,
      2,
    ),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const sweepMs = sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  const sweeper = sweepMs > 0 ? `sweeper every ${sweepMs / 1000} s` : "sweeper off";
  const what = codec === "openpgp" ? `OpenPGP, keys in ${keysDir}` : "plain JSON, no envelope";
  console.log(notificationsLine(stack.google?.url, stack.config.googleBaseUrl, keys));
  if (codec === "openpgp" && !stack.google)
    console.log(
      `npm run google cannot sign as Google with these keys (no ${KEY_FILES.googleStandInPrivate} that ${KEY_FILES.googlePublic} trusts)`,
    );
  console.log(
    `gsp-integrator ready at ${stack.url} (${what}; PIAIDs ${Object.keys(stack.config.piaids).join(", ")}; ${sweeper})`,
  );
} catch (error) {
  if (
    error instanceof MissingJavaError ||
    error instanceof KeyringError ||
    error instanceof LocalKeysError ||
    error instanceof SettingError
  ) {
    console.error(error.message);
  } else {
    console.error(`could not start the local stack: ${(error as Error).message}`);
  }
  process.exit(1);
}
