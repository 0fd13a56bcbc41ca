import * as v from "valibot";
import { currencyCode } from "./protocol/common.ts";

/** Codecs a process may run with. Plain JSON is for local development only: CDK refuses it. */
export const MessageCodecName = v.picklist(["openpgp", "plain-json"]);

const timeZone = v.pipe(
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

/** The environment a function reads once at cold start; one typed object, checked. */
const RuntimeEnv = v.object({
  STAGE: v.optional(v.string(), "local"),
  LEDGER_TABLE: v.pipe(v.string(), v.minLength(1)),
  CAPTURES_TABLE: v.pipe(v.string(), v.minLength(1)),
  /** JSON object: PIAID → ISO 4217 contract currency. */
  PIAIDS: v.pipe(v.string(), v.parseJson(), v.record(v.string(), currencyCode)),
  MESSAGE_CODEC: MessageCodecName,
  LEDGER_TIME_ZONE: v.optional(timeZone, "UTC"),
  /** OpenPGP keyrings: a folder of files (local), or two Secrets Manager secrets (cloud). */
  KEYS_DIR: v.optional(v.pipe(v.string(), v.minLength(1))),
  OUR_KEYS_SECRET_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  GOOGLE_KEYS_SECRET_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  KEYRING_TTL_SECONDS: v.optional(v.pipe(v.string(), v.toNumber(), v.minValue(0)), "300"),
});

export type KeysLocation =
  | { source: "files"; dir: string }
  | { source: "secretsmanager"; ownSecretId: string; googleSecretId: string };

export interface RuntimeConfig {
  stage: string;
  tables: { ledger: string; captures: string };
  piaids: Record<string, string>;
  messageCodec: v.InferOutput<typeof MessageCodecName>;
  ledgerTimeZone: string;
  /** Required with the openpgp codec. */
  keys?: KeysLocation;
  keyringTtlSeconds: number;
}

export function runtimeConfigFrom(env: Record<string, string | undefined>): RuntimeConfig {
  const result = v.safeParse(RuntimeEnv, env);
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? "?"} ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = result.output;
  const keys: KeysLocation | undefined = e.KEYS_DIR
    ? { source: "files", dir: e.KEYS_DIR }
    : e.OUR_KEYS_SECRET_ID && e.GOOGLE_KEYS_SECRET_ID
      ? {
          source: "secretsmanager",
          ownSecretId: e.OUR_KEYS_SECRET_ID,
          googleSecretId: e.GOOGLE_KEYS_SECRET_ID,
        }
      : undefined;
  if (e.MESSAGE_CODEC === "openpgp" && !keys) {
    throw new Error(
      "invalid configuration: the openpgp codec needs KEYS_DIR or OUR_KEYS_SECRET_ID and GOOGLE_KEYS_SECRET_ID",
    );
  }
  return {
    stage: e.STAGE,
    tables: { ledger: e.LEDGER_TABLE, captures: e.CAPTURES_TABLE },
    piaids: e.PIAIDS,
    messageCodec: e.MESSAGE_CODEC,
    ledgerTimeZone: e.LEDGER_TIME_ZONE,
    ...(keys && { keys }),
    keyringTtlSeconds: Number(e.KEYRING_TTL_SECONDS),
  };
}

/** The environment variables that carry a RuntimeConfig to a function (CDK and local stack alike). */
export function runtimeEnv(config: RuntimeConfig): Record<string, string> {
  return {
    STAGE: config.stage,
    LEDGER_TABLE: config.tables.ledger,
    CAPTURES_TABLE: config.tables.captures,
    PIAIDS: JSON.stringify(config.piaids),
    MESSAGE_CODEC: config.messageCodec,
    LEDGER_TIME_ZONE: config.ledgerTimeZone,
    KEYRING_TTL_SECONDS: String(config.keyringTtlSeconds),
    ...(config.keys?.source === "files" && { KEYS_DIR: config.keys.dir }),
    ...(config.keys?.source === "secretsmanager" && {
      OUR_KEYS_SECRET_ID: config.keys.ownSecretId,
      GOOGLE_KEYS_SECRET_ID: config.keys.googleSecretId,
    }),
  };
}
