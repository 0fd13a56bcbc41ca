import * as v from "valibot";
import { currencyCode } from "./protocol/common.ts";

/** Codecs a process may run with. Plain JSON is for local development only: CDK refuses it. */
export const MessageCodecName = v.picklist(["openpgp", "plain-json"]);

/** An IANA time zone name this runtime knows. */
export const timeZone = v.pipe(
  v.string(),
  v.check((tz) => {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, "must be an IANA time zone"),
);

const seconds = v.pipe(v.string(), v.toNumber(), v.minValue(0));

/** Defaults of the settings a caller building a RuntimeConfig in code may leave out. */
export const RUNTIME_DEFAULTS = {
  keyringTtlSeconds: 300,
  googleBaseUrl: "https://vgw.googleapis.com",
  captureDeadlineSeconds: 600,
  notify: { timeoutMs: 5000, backoffBaseSeconds: 10, backoffCapSeconds: 900, maxTries: 8 },
  enqueueGraceSeconds: 30,
  refundNotifications: true,
  statementAcceptance: "operator",
} as const;

/** The environment a function reads once at cold start; one typed object, checked. */
const RuntimeEnv = v.object({
  STAGE: v.optional(v.string(), "local"),
  LEDGER_TABLE: v.pipe(v.string(), v.minLength(1)),
  CAPTURES_TABLE: v.pipe(v.string(), v.minLength(1)),
  REFUNDS_TABLE: v.pipe(v.string(), v.minLength(1)),
  STATEMENTS_TABLE: v.pipe(v.string(), v.minLength(1)),
  /** JSON object: PIAID → ISO 4217 contract currency. */
  PIAIDS: v.pipe(v.string(), v.parseJson(), v.record(v.string(), currencyCode)),
  MESSAGE_CODEC: MessageCodecName,
  LEDGER_TIME_ZONE: v.optional(timeZone, "UTC"),
  /** OpenPGP keyrings: a folder of files (local), or two Secrets Manager secrets (cloud). */
  KEYS_DIR: v.optional(v.pipe(v.string(), v.minLength(1))),
  OUR_KEYS_SECRET_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  GOOGLE_KEYS_SECRET_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  KEYRING_TTL_SECONDS: v.optional(seconds, String(RUNTIME_DEFAULTS.keyringTtlSeconds)),
  /** Asynchronous captures and their notifications. */
  NOTIFICATIONS_QUEUE_URL: v.optional(v.pipe(v.string(), v.url())),
  GOOGLE_BASE_URL: v.optional(v.pipe(v.string(), v.url()), RUNTIME_DEFAULTS.googleBaseUrl),
  CAPTURE_DEADLINE_SECONDS: v.optional(seconds, String(RUNTIME_DEFAULTS.captureDeadlineSeconds)),
  NOTIFY_TIMEOUT_MS: v.optional(seconds, String(RUNTIME_DEFAULTS.notify.timeoutMs)),
  NOTIFY_BACKOFF_BASE_SECONDS: v.optional(seconds, String(RUNTIME_DEFAULTS.notify.backoffBaseSeconds)),
  NOTIFY_BACKOFF_CAP_SECONDS: v.optional(seconds, String(RUNTIME_DEFAULTS.notify.backoffCapSeconds)),
  /** Tries of one queued notification before the notifier moves it to the DLQ itself (the queue's maxReceiveCount). */
  NOTIFY_MAX_TRIES: v.optional(
    v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(1)),
    String(RUNTIME_DEFAULTS.notify.maxTries),
  ),
  /** The notifications DLQ, where the notifier sends a message after its last failed try. */
  NOTIFICATIONS_DLQ_URL: v.optional(v.pipe(v.string(), v.url())),
  /** The OTP pepper (HMAC key of OTP digests): a Secrets Manager secret (cloud) or a file (local). */
  OTP_PEPPER_SECRET_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  OTP_PEPPER_FILE: v.optional(v.pipe(v.string(), v.minLength(1))),
  ENQUEUE_GRACE_SECONDS: v.optional(seconds, String(RUNTIME_DEFAULTS.enqueueGraceSeconds)),
  /** refundResultNotification, the backup signal of a refund: some contracts may not want it. */
  REFUND_NOTIFICATIONS: v.optional(
    v.picklist(["on", "off"]),
    RUNTIME_DEFAULTS.refundNotifications ? "on" : "off",
  ),
  /** Remittance statements to reconcile (the statement notification sends, the reconciler consumes). */
  STATEMENTS_QUEUE_URL: v.optional(v.pipe(v.string(), v.url())),
  /** Who accepts a statement that reconciled exactly: the reconciler itself, or only an operator. */
  STATEMENT_ACCEPTANCE: v.optional(v.picklist(["auto", "operator"]), RUNTIME_DEFAULTS.statementAcceptance),
});

export type KeysLocation =
  | { source: "files"; dir: string }
  | { source: "secretsmanager"; ownSecretId: string; googleSecretId: string };

export type OtpPepperLocation =
  | { source: "file"; path: string }
  | { source: "secretsmanager"; secretId: string };

export interface RuntimeConfig {
  stage: string;
  tables: { ledger: string; captures: string; refunds: string; statements: string };
  piaids: Record<string, string>;
  messageCodec: v.InferOutput<typeof MessageCodecName>;
  ledgerTimeZone: string;
  /** Required with the openpgp codec. */
  keys?: KeysLocation;
  keyringTtlSeconds: number;
  /** Required by the functions that enqueue notifications. */
  notificationsQueueUrl?: string;
  googleBaseUrl: string;
  captureDeadlineSeconds: number;
  notify: { timeoutMs: number; backoffBaseSeconds: number; backoffCapSeconds: number; maxTries: number };
  /** The notifier's DLQ; without it a last failed try is left for SQS's redrive (visibility 0). */
  notificationsDlqUrl?: string;
  /** Required by capture when a request carries an OTP. */
  otpPepper?: OtpPepperLocation;
  /** How long a writer has to enqueue a recorded outcome before the sweeper does it. */
  enqueueGraceSeconds: number;
  /** Whether every committed refund owes Google a refundResultNotification. */
  refundNotifications: boolean;
  /** Required by the functions that enqueue statements to reconcile. */
  statementsQueueUrl?: string;
  /** "auto": the reconciler accepts an exact statement; "operator": only `ops statements accept` does. */
  statementAcceptance: "auto" | "operator";
}

export function runtimeConfigFrom(env: Record<string, string | undefined>): RuntimeConfig {
  const result = v.safeParse(RuntimeEnv, env);
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? "?"} ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = result.output;
  // The CDK app refuses plain JSON at synthesis; this refuses it in a function configured by hand.
  if (e.MESSAGE_CODEC === "plain-json" && env.AWS_LAMBDA_FUNCTION_NAME) {
    throw new Error(
      'invalid configuration: MESSAGE_CODEC "plain-json" is for the local stack only, never in Lambda',
    );
  }
  const keys: KeysLocation | undefined = e.KEYS_DIR
    ? { source: "files", dir: e.KEYS_DIR }
    : e.OUR_KEYS_SECRET_ID && e.GOOGLE_KEYS_SECRET_ID
      ? {
          source: "secretsmanager",
          ownSecretId: e.OUR_KEYS_SECRET_ID,
          googleSecretId: e.GOOGLE_KEYS_SECRET_ID,
        }
      : undefined;
  return {
    stage: e.STAGE,
    tables: {
      ledger: e.LEDGER_TABLE,
      captures: e.CAPTURES_TABLE,
      refunds: e.REFUNDS_TABLE,
      statements: e.STATEMENTS_TABLE,
    },
    piaids: e.PIAIDS,
    messageCodec: e.MESSAGE_CODEC,
    ledgerTimeZone: e.LEDGER_TIME_ZONE,
    ...(keys && { keys }),
    keyringTtlSeconds: Number(e.KEYRING_TTL_SECONDS),
    ...(e.NOTIFICATIONS_QUEUE_URL && { notificationsQueueUrl: e.NOTIFICATIONS_QUEUE_URL }),
    googleBaseUrl: e.GOOGLE_BASE_URL,
    captureDeadlineSeconds: Number(e.CAPTURE_DEADLINE_SECONDS),
    notify: {
      timeoutMs: Number(e.NOTIFY_TIMEOUT_MS),
      backoffBaseSeconds: Number(e.NOTIFY_BACKOFF_BASE_SECONDS),
      backoffCapSeconds: Number(e.NOTIFY_BACKOFF_CAP_SECONDS),
      maxTries: Number(e.NOTIFY_MAX_TRIES),
    },
    ...(e.NOTIFICATIONS_DLQ_URL && { notificationsDlqUrl: e.NOTIFICATIONS_DLQ_URL }),
    ...(e.OTP_PEPPER_SECRET_ID
      ? { otpPepper: { source: "secretsmanager" as const, secretId: e.OTP_PEPPER_SECRET_ID } }
      : e.OTP_PEPPER_FILE && { otpPepper: { source: "file" as const, path: e.OTP_PEPPER_FILE } }),
    enqueueGraceSeconds: Number(e.ENQUEUE_GRACE_SECONDS),
    refundNotifications: e.REFUND_NOTIFICATIONS === "on",
    ...(e.STATEMENTS_QUEUE_URL && { statementsQueueUrl: e.STATEMENTS_QUEUE_URL }),
    statementAcceptance: e.STATEMENT_ACCEPTANCE,
  };
}

/** The environment variables that carry a RuntimeConfig to a function (CDK and local stack alike). */
export function runtimeEnv(config: RuntimeConfig): Record<string, string> {
  return {
    STAGE: config.stage,
    LEDGER_TABLE: config.tables.ledger,
    CAPTURES_TABLE: config.tables.captures,
    REFUNDS_TABLE: config.tables.refunds,
    STATEMENTS_TABLE: config.tables.statements,
    PIAIDS: JSON.stringify(config.piaids),
    MESSAGE_CODEC: config.messageCodec,
    LEDGER_TIME_ZONE: config.ledgerTimeZone,
    KEYRING_TTL_SECONDS: String(config.keyringTtlSeconds),
    ...(config.notificationsQueueUrl && { NOTIFICATIONS_QUEUE_URL: config.notificationsQueueUrl }),
    GOOGLE_BASE_URL: config.googleBaseUrl,
    CAPTURE_DEADLINE_SECONDS: String(config.captureDeadlineSeconds),
    NOTIFY_TIMEOUT_MS: String(config.notify.timeoutMs),
    NOTIFY_BACKOFF_BASE_SECONDS: String(config.notify.backoffBaseSeconds),
    NOTIFY_BACKOFF_CAP_SECONDS: String(config.notify.backoffCapSeconds),
    NOTIFY_MAX_TRIES: String(config.notify.maxTries),
    ...(config.notificationsDlqUrl && { NOTIFICATIONS_DLQ_URL: config.notificationsDlqUrl }),
    ...(config.otpPepper?.source === "file" && { OTP_PEPPER_FILE: config.otpPepper.path }),
    ...(config.otpPepper?.source === "secretsmanager" && { OTP_PEPPER_SECRET_ID: config.otpPepper.secretId }),
    ENQUEUE_GRACE_SECONDS: String(config.enqueueGraceSeconds),
    REFUND_NOTIFICATIONS: config.refundNotifications ? "on" : "off",
    ...(config.statementsQueueUrl && { STATEMENTS_QUEUE_URL: config.statementsQueueUrl }),
    STATEMENT_ACCEPTANCE: config.statementAcceptance,
    ...(config.keys?.source === "files" && { KEYS_DIR: config.keys.dir }),
    ...(config.keys?.source === "secretsmanager" && {
      OUR_KEYS_SECRET_ID: config.keys.ownSecretId,
      GOOGLE_KEYS_SECRET_ID: config.keys.googleSecretId,
    }),
  };
}
