/**
 * The deployed environments: one typed, valibot-checked object (ARCHITECTURE.md, decision 8).
 * Everything else about a resource (names, keys, timeouts, memory) comes from infra/resources.ts.
 */
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import * as v from "valibot";
import { MessageCodecName, RUNTIME_DEFAULTS, timeZone } from "../../shared/config.ts";
import { isRoleArn } from "../../shared/http/caller.ts";
import { currencyCode } from "../../shared/protocol/common.ts";
import { type FunctionName, functions } from "../resources.ts";

export const ENVIRONMENT_NAMES = ["dev", "sandbox", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

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
  }),
  v.check(
    (r) => r.notifier >= functions.notifier.consumes.maxConcurrency,
    `notifier must be at least its event source's maxConcurrency (${functions.notifier.consumes.maxConcurrency})`,
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
    /** Secrets Manager secret names; each SecretString is an armored keyring. */
    /** Secrets Manager secret names; the keyrings' SecretString is an armored keyring, the OTP pepper's ≥ 32 random bytes (base64). */
    secrets: v.strictObject({ ourKeys: secretName, googleKeys: secretName, otpPepper: secretName }),
    keyringTtlSeconds: v.optional(positiveInt, RUNTIME_DEFAULTS.keyringTtlSeconds),
    captureDeadlineSeconds: positiveInt,
    /** Whether every refund owes Google a refundResultNotification (some contracts may not want it). */
    refundNotifications: v.optional(v.boolean(), RUNTIME_DEFAULTS.refundNotifications),
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
    (e) => !e.customDomain || e.customDomain.certificateArn.split(":")[3] === e.region,
    "customDomain.certificateArn must be in the environment's region (the API's custom domain is regional)",
  ),
);
export type EnvironmentConfig = v.InferOutput<typeof EnvironmentConfig>;

/**
 * Account ids, e-mail addresses, the outcome callers' roles, the domain and the certificate below are placeholders: replace
 * them with the integrator's own before the first deploy (infra/cdk/DEPLOY.md).
 */
export const ENVIRONMENTS: Record<EnvironmentName, v.InferInput<typeof EnvironmentConfig>> = {
  dev: {
    account: "111111111111",
    region: "ap-south-1",
    piaids: { InvisiCashIN_INR: "INR" },
    googleBaseUrl: "https://vgw.sandbox.google.com",
    secrets: {
      ourKeys: "gsp/dev/integrator-private-keyring",
      googleKeys: "gsp/dev/google-public-keyring",
      otpPepper: "gsp/dev/otp-pepper",
    },
    captureDeadlineSeconds: 600,
    ledgerTimeZone: "Asia/Kolkata",
    alarmEmail: "gsp-alarms-dev@example.com",
    logRetentionDays: 14,
    retainData: false,
    api: { throttlingRateLimit: 20, throttlingBurstLimit: 40 },
    outcomeCallers: ["arn:aws:iam::111111111111:role/integrator-outcome-reporter"],
    reservedConcurrency: {
      capture: 5,
      asynchronousCapture: 5,
      refund: 5,
      echo: 2,
      captureOutcome: 5,
      notifier: 5,
    },
    waf: { rateLimitPer5Minutes: 1000, maxBodyBytes: 16 * 1024 },
  },
  sandbox: {
    account: "222222222222",
    region: "ap-south-1",
    piaids: { InvisiCashIN_INR: "INR" },
    googleBaseUrl: "https://vgw.sandbox.google.com",
    secrets: {
      ourKeys: "gsp/sandbox/integrator-private-keyring",
      googleKeys: "gsp/sandbox/google-public-keyring",
      otpPepper: "gsp/sandbox/otp-pepper",
    },
    captureDeadlineSeconds: 600,
    ledgerTimeZone: "Asia/Kolkata",
    alarmEmail: "gsp-alarms-sandbox@example.com",
    logRetentionDays: 30,
    retainData: false,
    api: { throttlingRateLimit: 50, throttlingBurstLimit: 100 },
    outcomeCallers: ["arn:aws:iam::222222222222:role/integrator-outcome-reporter"],
    reservedConcurrency: {
      capture: 10,
      asynchronousCapture: 10,
      refund: 5,
      echo: 2,
      captureOutcome: 10,
      notifier: 5,
      sweeper: 1,
    },
    waf: { rateLimitPer5Minutes: 3000, maxBodyBytes: 16 * 1024 },
  },
  prod: {
    account: "333333333333",
    region: "ap-south-1",
    piaids: { InvisiCashIN_INR: "INR" },
    googleBaseUrl: "https://vgw.googleapis.com",
    secrets: {
      ourKeys: "gsp/prod/integrator-private-keyring",
      googleKeys: "gsp/prod/google-public-keyring",
      otpPepper: "gsp/prod/otp-pepper",
    },
    captureDeadlineSeconds: 600,
    ledgerTimeZone: "Asia/Kolkata",
    alarmEmail: "gsp-alarms@example.com",
    logRetentionDays: 365,
    retainData: true,
    alarmOnNoGoogleTraffic: true,
    api: { throttlingRateLimit: 500, throttlingBurstLimit: 1000 },
    outcomeCallers: ["arn:aws:iam::333333333333:role/integrator-outcome-reporter"],
    // Each route's functions have their own share; one sweep at a time; the notifier's calls to Google bounded.
    reservedConcurrency: {
      capture: 100,
      asynchronousCapture: 100,
      refund: 20,
      // Google calls echo a few times a minute at most.
      echo: 5,
      captureOutcome: 50,
      notifier: 20,
      sweeper: 1,
    },
    // Add Google's published egress ranges as googleSourceCidrs once onboarding confirms them.
    waf: { rateLimitPer5Minutes: 30000, maxBodyBytes: 16 * 1024 },
    customDomain: {
      domainName: "gsp.invisicash.example.com",
      certificateArn: "arn:aws:acm:ap-south-1:333333333333:certificate/00000000-0000-0000-0000-000000000000",
    },
  },
};

/** Checks one environment's configuration; throws one sentence per problem, naming the field. */
export function parseEnvironment(name: string, raw: unknown): EnvironmentConfig {
  const result = v.safeParse(EnvironmentConfig, raw);
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? "config"} ${i.message}`).join("; ");
    throw new Error(`invalid configuration for environment "${name}": ${problems}`);
  }
  return result.output;
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
