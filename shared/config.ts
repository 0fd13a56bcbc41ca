import * as v from "valibot";
import { currencyCode } from "./protocol/common.ts";

/** Codecs a deployment may run with. Plain JSON exists for local development only (see README). */
export const MessageCodecName = v.picklist(["plain-json"]);

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
});

export interface RuntimeConfig {
  stage: string;
  tables: { ledger: string; captures: string };
  piaids: Record<string, string>;
  messageCodec: v.InferOutput<typeof MessageCodecName>;
  ledgerTimeZone: string;
}

export function runtimeConfigFrom(env: Record<string, string | undefined>): RuntimeConfig {
  const result = v.safeParse(RuntimeEnv, env);
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? "?"} ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = result.output;
  return {
    stage: e.STAGE,
    tables: { ledger: e.LEDGER_TABLE, captures: e.CAPTURES_TABLE },
    piaids: e.PIAIDS,
    messageCodec: e.MESSAGE_CODEC,
    ledgerTimeZone: e.LEDGER_TIME_ZONE,
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
  };
}
