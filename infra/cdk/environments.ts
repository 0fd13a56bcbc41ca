/**
 * The deployed environments: one typed, valibot-checked object (ARCHITECTURE.md, decision 8).
 * Everything else about a resource (names, keys, timeouts, memory) comes from infra/resources.ts.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import * as v from "valibot";
import { MessageCodecName, RUNTIME_DEFAULTS, timeZone } from "../../shared/config.ts";
import { isRoleArn } from "../../shared/http/caller.ts";
import { currencyCode } from "../../shared/protocol/common.ts";
import { type FunctionName, functions } from "../resources.ts";

const REPO_ROOT = join(import.meta.dirname, "../..");

export const ENVIRONMENT_NAMES = ["dev", "sandbox", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** Google's production host: an environment that calls it is production, where no smoke key is trusted. */
export const GOOGLE_PRODUCTION_URL = "https://vgw.googleapis.com";

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const ianaTimeZone = timeZone;
const httpsUrl = v.pipe(
  v.string(),
  v.url(),
  v.check((u) => u.startsWith("https://"), "must be https"),
);
const secretName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, "must be a Secrets Manager secret name"),
);
const retentionDays = v.picklist(
  Object.values(RetentionDays).filter((d): d is RetentionDays => typeof d === "number"),
  "must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, …)",
);

/** The one codec a deployed environment may use; plain JSON is for the local stack only. */
const deployedCodec = v.pipe(
  MessageCodecName,
  v.check(
    (codec) => codec === "openpgp",
    'is "plain-json", which is for the local stack only: a deployed environment must use the OpenPGP codec ("openpgp")',
  ),
);

/**
 * Each Google-facing function, the outcome function and the notifier hold their own share of the
 * account's concurrency, so a flood on one route cannot starve another; the notifier's share is at
 * least its event source's maxConcurrency, so no receive is throttled (and burns a receive count).
 */
const reservedConcurrency = v.pipe(
  v.strictObject({
    capture: positiveInt,
    asynchronousCapture: positiveInt,
    refund: positiveInt,
    echo: positiveInt,
    captureOutcome: positiveInt,
    notifier: positiveInt,
    sweeper: v.optional(positiveInt),
    remittanceStatementNotification: positiveInt,
    reconciler: positiveInt,
  }),
  v.check(
    (r) => r.notifier >= functions.notifier.consumes.maxConcurrency,
    `notifier must be at least its event source's maxConcurrency (${functions.notifier.consumes.maxConcurrency})`,
  ),
  v.check(
    (r) => r.reconciler >= functions.reconciler.consumes.maxConcurrency,
    `reconciler must be at least its event source's maxConcurrency (${functions.reconciler.consumes.maxConcurrency})`,
  ),
);
export type ReservedConcurrency = Partial<Record<FunctionName, number>>;

/** An IAM role ARN (a role of the integrator's systems that may report outcomes). */
const roleArn = v.pipe(v.string(), v.check(isRoleArn, "must be an IAM role ARN"));
const cidr = v.pipe(
  v.string(),
  v.check(
    (c) => /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(c) || /^[0-9a-f:]+\/\d{1,3}$/i.test(c),
    "must be a CIDR",
  ),
);

export const EnvironmentConfig = v.pipe(
  v.strictObject({
    account: v.pipe(v.string(), v.regex(/^\d{12}$/, "must be a 12-digit AWS account id")),
    region: v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region")),
    /** PIAID → contract currency, e.g. {"InvisiCashIN_INR": "INR"}. */
    piaids: v.pipe(
      v.record(v.pipe(v.string(), v.minLength(1)), currencyCode),
      v.check((p) => Object.keys(p).length > 0, "must name at least one PIAID"),
    ),
    messageCodec: v.optional(deployedCodec, "openpgp"),
    /** Where captureResultNotification goes (sandbox and production differ). */
    googleBaseUrl: httpsUrl,
    /** Secrets Manager secret names; the keyrings' SecretString is an armored keyring, the OTP pepper's ≥ 32 random bytes (base64). */
    secrets: v.strictObject({ ourKeys: secretName, googleKeys: secretName, otpPepper: secretName }),
    keyringTtlSeconds: v.optional(positiveInt, RUNTIME_DEFAULTS.keyringTtlSeconds),
    captureDeadlineSeconds: positiveInt,
    /** Whether every refund owes Google a refundResultNotification (some contracts may not want it). */
    refundNotifications: v.optional(v.boolean(), RUNTIME_DEFAULTS.refundNotifications),
    /** Who accepts a remittance statement that reconciled exactly: the reconciler ("auto") or only an operator. */
    statementAcceptance: v.optional(v.picklist(["auto", "operator"]), RUNTIME_DEFAULTS.statementAcceptance),
    ledgerTimeZone: ianaTimeZone,
    /** Receives every alarm (SNS email subscription). */
    alarmEmail: v.pipe(v.string(), v.email()),
    /** Also receives every alarm, if set: a PagerDuty / Opsgenie style HTTPS endpoint (SNS HTTPS subscription). */
    alarmHttpsEndpoint: v.optional(httpsUrl),
    /** Alarm when Google sends nothing for 15 minutes (production traffic never stops). */
    alarmOnNoGoogleTraffic: v.optional(v.boolean(), false),
    /** Roles of the integrator's systems allowed to report outcomes (API resource policy and the function's own check). */
    outcomeCallers: v.pipe(v.array(roleArn), v.minLength(1, "must name at least one role")),
    logRetentionDays: retentionDays,
    /** Tables kept on stack deletion (RETAIN) and protected from deletion. */
    retainData: v.boolean(),
    api: v.strictObject({
      throttlingRateLimit: v.pipe(v.number(), v.minValue(1)),
      throttlingBurstLimit: positiveInt,
    }),
    reservedConcurrency,
    /** The WAF in front of both APIs (infra/cdk/DEPLOY.md, "Edge"). */
    waf: v.strictObject({
      /** Requests per source IP per 5 minutes before WAF blocks it (AWS's minimum is 10). */
      rateLimitPer5Minutes: v.pipe(positiveInt, v.minValue(10)),
      /** Larger bodies are blocked (WAF inspects up to 16 KiB of an API Gateway body by default). */
      maxBodyBytes: v.pipe(positiveInt, v.maxValue(16 * 1024)),
      /** If set, the Google-facing API only admits these source ranges (Google's published egress ranges). */
      googleSourceCidrs: v.optional(v.pipe(v.array(cidr), v.minLength(1))),
    }),
    /**
     * The smoke test's identity in a non-prod environment (`npm run smoke -- --env NAME`): a keypair only
     * this environment's Google keyring trusts, and a dedicated smoke account's token (captured, replayed, refunded).
     */
    smoke: v.optional(
      v.strictObject({
        /** Secrets Manager: the smoke private key (armored), whose public half is appended to secrets.googleKeys. */
        keySecret: secretName,
        /** Secrets Manager: our public key(s), the public half of secrets.ourKeys, which the smoke test encrypts to. */
        integratorPublicKeySecret: secretName,
        /** The dedicated smoke account's token in this environment's ledger (never a customer's). */
        googlePaymentToken: v.pipe(v.string(), v.minLength(1)),
        /** Micros captured and refunded again by each run. */
        amount: v.optional(v.pipe(v.string(), v.regex(/^[1-9]\d{0,17}$/, "must be micros")), "1000000"),
      }),
    ),
    customDomain: v.optional(
      v.strictObject({
        domainName: v.pipe(v.string(), v.regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "must be a DNS name")),
        certificateArn: v.pipe(
          v.string(),
          v.regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, "must be an ACM ARN"),
        ),
      }),
    ),
  }),
  v.check(
    (e) => !(e.smoke && e.googleBaseUrl === GOOGLE_PRODUCTION_URL),
    `smoke must not be set where googleBaseUrl is Google's production (${GOOGLE_PRODUCTION_URL}): only non-prod keyrings may trust the smoke key`,
  ),
  v.check(
    (e) => !e.customDomain || e.customDomain.certificateArn.split(":")[3] === e.region,
    "customDomain.certificateArn must be in the environment's region (the API's custom domain is regional)",
  ),
);
export type EnvironmentConfig = v.InferOutput<typeof EnvironmentConfig>;

/** Where the integrator keeps each environment's settings: one JSON file per environment, e.g. environments/prod.json. */
export const ENVIRONMENTS_DIR = join(import.meta.dirname, "environments");

/** The file of one environment, as a sentence names it (relative to the repository). */
export const environmentFile = (name: string, dir = ENVIRONMENTS_DIR) =>
  relative(REPO_ROOT, join(dir, `${name}.json`)) || join(dir, `${name}.json`);

/** Reads one environment's file; a missing or unreadable file is one sentence naming it. */
export function readEnvironmentFile(name: string, dir = ENVIRONMENTS_DIR): EnvironmentInput {
  const file = environmentFile(name, dir);
  let text: string;
  try {
    text = readFileSync(join(dir, `${name}.json`), "utf8");
  } catch {
    throw new Error(`environment "${name}": ${file} is missing: copy another environment's file and edit it`);
  }
  try {
    return JSON.parse(text) as EnvironmentInput;
  } catch (error) {
    throw new Error(`environment "${name}": ${file} is not valid JSON (${(error as Error).message})`);
  }
}

export type EnvironmentInput = v.InferInput<typeof EnvironmentConfig>;

/** The environments as their files say (checked at synthesis by parseEnvironment and findPlaceholders). */
export const ENVIRONMENTS: Record<EnvironmentName, EnvironmentInput> = Object.fromEntries(
  ENVIRONMENT_NAMES.map((name) => [name, readEnvironmentFile(name)]),
) as Record<EnvironmentName, EnvironmentInput>;

/** Account ids documentation and examples use (111111111111, 123456789012): never a real account of the integrator. */
const placeholderAccount = (id: string) => /^(\d)\1{11}$/.test(id) || id === "123456789012";
/** Names reserved for examples (RFC 2606 / 6761): example.com, .net, .org, *.example, *.test, *.invalid. */
const placeholderHost = (host: string) =>
  /(^|\.)example\.(com|net|org)$/i.test(host) || /\.(example|test|invalid)$/i.test(host);

/** Why a value is one of the file's examples rather than the integrator's own, if it is. */
function placeholderReason(value: string): string | undefined {
  if (placeholderAccount(value)) return "an example account id";
  const arnAccount = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/.exec(value)?.[1];
  if (arnAccount && placeholderAccount(arnAccount)) return `an ARN in the example account ${arnAccount}`;
  if (/:certificate\/0{8}-0{4}-0{4}-0{4}-0{12}$/.test(value)) return "an example certificate";
  const email = /^[^@\s]+@([^@\s]+)$/.exec(value)?.[1];
  if (email && placeholderHost(email)) return `an address at ${email}, a domain reserved for examples`;
  const host =
    /^https?:\/\/([^/:]+)/.exec(value)?.[1] ??
    (/^([a-z0-9-]+\.)+[a-z]{2,}$/i.test(value) ? value : undefined);
  if (host && placeholderHost(host)) return `${host} is a domain reserved for examples`;
  return undefined;
}

/**
 * Every value of an environment's file that is still an example (accounts, e-mail, certificate,
 * Google URL, roles, domain), each as one sentence naming the field and the file.
 */
export function findPlaceholders(name: string, raw: unknown, dir = ENVIRONMENTS_DIR): string[] {
  const file = environmentFile(name, dir);
  const found: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value === "string") {
      const reason = placeholderReason(value);
      if (reason) {
        found.push(
          `${file}: ${path} is still a placeholder (${JSON.stringify(value)}: ${reason}); put the integrator's own value there`,
        );
      }
    } else if (value && typeof value === "object") {
      // Arrays too: their entries are named by index (outcomeCallers.0).
      for (const [key, item] of Object.entries(value)) walk(item, path ? `${path}.${key}` : key);
    }
  };
  walk(raw, "");
  return found;
}

/** Checks a settings file's content against its schema; throws one sentence naming each bad field and the file. */
export function parseSettings<S extends v.GenericSchema>(
  schema: S,
  what: string,
  file: string,
  raw: unknown,
): v.InferOutput<S> {
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    const problems = result.issues
      .map((i) => `${v.getDotPath(i) ?? "config"} ${i.input === undefined ? "is missing" : i.message}`)
      .join("; ");
    throw new Error(`invalid configuration for ${what} (${file}): ${problems}`);
  }
  return result.output;
}

/** Checks one environment's configuration; throws one sentence per problem, naming the field and the file. */
export function parseEnvironment(name: string, raw: unknown, dir = ENVIRONMENTS_DIR): EnvironmentConfig {
  return parseSettings(EnvironmentConfig, `environment "${name}"`, environmentFile(name, dir), raw);
}

/** `-c env=…`: one environment, or `all` of them. */
export function selectEnvironments(selector: unknown): EnvironmentName[] {
  if (selector === "all") return [...ENVIRONMENT_NAMES];
  if (typeof selector === "string" && (ENVIRONMENT_NAMES as readonly string[]).includes(selector)) {
    return [selector as EnvironmentName];
  }
  throw new Error(
    `choose an environment with -c env=<${[...ENVIRONMENT_NAMES, "all"].join("|")}> (got ${JSON.stringify(selector ?? null)})`,
  );
}
