/** The per-environment configuration and what the app does with a bad one (no bundling here). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  type EnvironmentName,
  parseEnvironment,
  selectEnvironments,
} from "../../infra/cdk/environments.ts";
import { addEnvironments } from "../../infra/cdk/gsp-app.ts";
import { assertConsumerFits, GspStack } from "../../infra/cdk/gsp-stack.ts";
import { functions, queues } from "../../infra/resources.ts";
import { newApp, REPO_ROOT } from "./synth.ts";

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});
const emptyApp = () => {
  const made = newApp();
  cleanups.push(made.cleanup);
  return made.app;
};
const withOverride = (env: EnvironmentName, override: Record<string, unknown>) => ({
  ...ENVIRONMENTS,
  [env]: { ...ENVIRONMENTS[env], ...override },
});

describe("environments", () => {
  it("dev, sandbox and prod all parse, with the OpenPGP codec", () => {
    for (const name of ENVIRONMENT_NAMES) {
      const config = parseEnvironment(name, ENVIRONMENTS[name]);
      assert.equal(config.messageCodec, "openpgp", name);
      assert.ok(Object.keys(config.piaids).length > 0, name);
    }
  });

  it("prod calls Google's production base URL; sandbox calls another", () => {
    assert.equal(parseEnvironment("prod", ENVIRONMENTS.prod).googleBaseUrl, "https://vgw.googleapis.com");
    assert.notEqual(
      parseEnvironment("sandbox", ENVIRONMENTS.sandbox).googleBaseUrl,
      "https://vgw.googleapis.com",
    );
  });

  it("only prod keeps its data", () => {
    assert.deepEqual(
      ENVIRONMENT_NAMES.filter((n) => parseEnvironment(n, ENVIRONMENTS[n]).retainData),
      ["prod"],
    );
  });

  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: the app refuses messageCodec "plain-json" with a clear sentence, before building any stack`, () => {
      const app = emptyApp();
      assert.throws(
        () => addEnvironments(app, "all", withOverride(env, { messageCodec: "plain-json" })),
        (error: Error) => {
          assert.match(error.message, new RegExp(`environment "${env}"`));
          assert.match(error.message, /messageCodec is "plain-json", which is for the local stack only/);
          assert.match(error.message, /must use the OpenPGP codec/);
          return true;
        },
      );
      assert.equal(app.node.children.length, 0, "no stack was built");
    });
  }

  it("the stack refuses plain JSON even from a config that skipped the check", () => {
    const app = emptyApp();
    const config = { ...parseEnvironment("dev", ENVIRONMENTS.dev), messageCodec: "plain-json" as const };
    assert.throws(
      () => new GspStack(app, "Bypass", { stage: "dev", config: config as never }),
      /must use the OpenPGP codec/,
    );
  });

  it("accepts an explicit openpgp codec", () => {
    assert.equal(
      parseEnvironment("dev", { ...ENVIRONMENTS.dev, messageCodec: "openpgp" }).messageCodec,
      "openpgp",
    );
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ["an unknown setting (a typo)", { alarmEmial: "x@example.com" }, /alarmEmial/],
    ["a currency that is not ISO 4217", { piaids: { InvisiCashIN_INR: "RUPEES" } }, /piaids/],
    ["no PIAID", { piaids: {} }, /at least one PIAID/],
    ["an http Google URL", { googleBaseUrl: "http://vgw.googleapis.com" }, /googleBaseUrl must be https/],
    ["a bad alarm address", { alarmEmail: "ops" }, /alarmEmail/],
    ["a retention CloudWatch does not offer", { logRetentionDays: 42 }, /logRetentionDays/],
    ["a time zone that does not exist", { ledgerTimeZone: "Mars/Olympus" }, /IANA time zone/],
    ["a short account id", { account: "1234" }, /12-digit/],
    ["zero reserved concurrency", { reservedConcurrency: { notifier: 0 } }, /reservedConcurrency/],
    [
      "reserved concurrency for a function that does not exist",
      { reservedConcurrency: { mailer: 1 } },
      /mailer/,
    ],
    [
      "no reserved concurrency for a Google-facing function",
      { reservedConcurrency: { asynchronousCapture: 5, captureOutcome: 5, notifier: 5 } },
      /reservedConcurrency\.capture/,
    ],
    [
      "a notifier reserved concurrency under its event source's maxConcurrency",
      {
        reservedConcurrency: {
          capture: 5,
          asynchronousCapture: 5,
          refund: 5,
          echo: 2,
          captureOutcome: 5,
          notifier: 2,
          remittanceStatementNotification: 2,
          reconciler: 2,
        },
      },
      /notifier must be at least its event source's maxConcurrency/,
    ],
    ["no outcome caller", { outcomeCallers: [] }, /outcomeCallers must name at least one role/],
    [
      "an outcome caller that is not a role",
      { outcomeCallers: ["arn:aws:iam::111111111111:user/alice"] },
      /outcomeCallers\.0 must be an IAM role ARN/,
    ],
    [
      "an http alarm endpoint",
      { alarmHttpsEndpoint: "http://pager.example/x" },
      /alarmHttpsEndpoint must be https/,
    ],
    [
      "a WAF body limit beyond what WAF inspects",
      { waf: { rateLimitPer5Minutes: 100, maxBodyBytes: 65536 } },
      /waf\.maxBodyBytes/,
    ],
    [
      "a Google source range that is not a CIDR",
      { waf: { rateLimitPer5Minutes: 100, maxBodyBytes: 8192, googleSourceCidrs: ["google"] } },
      /waf\.googleSourceCidrs\.0 must be a CIDR/,
    ],
    [
      "a certificate from another region",
      {
        customDomain: {
          domainName: "gsp.example.com",
          certificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/0000-1111",
        },
      },
      /environment's region/,
    ],
  ];
  for (const [what, override, message] of invalid) {
    it(`refuses ${what}`, () => {
      assert.throws(() => addEnvironments(emptyApp(), "dev", withOverride("dev", override)), message);
    });
  }

  it("-c env selects one environment or all; anything else is refused", () => {
    assert.deepEqual(selectEnvironments("prod"), ["prod"]);
    assert.deepEqual(selectEnvironments("all"), ["dev", "sandbox", "prod"]);
    assert.throws(() => selectEnvironments(undefined), /-c env=<dev\|sandbox\|prod\|all>/);
    assert.throws(() => selectEnvironments("production"), /"production"/);
  });

  it("infra/cdk/app.ts exits non-zero with one sentence when no environment is chosen", () => {
    const run = spawnSync(process.execPath, [join(REPO_ROOT, "infra/cdk/app.ts")], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ env: "staging" }) },
      encoding: "utf8",
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /gsp-integrator: choose an environment with -c env=<dev\|sandbox\|prod\|all> \(got "staging"\)/,
    );
  });

  it("synthesis refuses a queue consumer that could outlive its queue's visibility timeout", () => {
    const queue = { name: "notifications", visibilityTimeoutSeconds: 60 };
    assert.doesNotThrow(() => assertConsumerFits("notifier", { timeoutSeconds: 10 }, queue, 5000));
    assert.throws(
      () => assertConsumerFits("notifier", { timeoutSeconds: 11 }, queue, 5000),
      /visibility timeout 60 s is under 6 × the 11 s timeout of notifier/,
    );
    assert.throws(() => assertConsumerFits("notifier", { timeoutSeconds: 10 }, queue, 10_000), /outlast/);
    // And the real definitions pass.
    assert.doesNotThrow(() =>
      assertConsumerFits("notifier", functions.notifier, queues[functions.notifier.consumes.queue], 5000),
    );
  });
});
