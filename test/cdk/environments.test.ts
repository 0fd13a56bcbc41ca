/** The per-environment configuration and what the app does with a bad one (no bundling here). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { App } from "aws-cdk-lib";
import {
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  type EnvironmentName,
  environmentFile,
  findPlaceholders,
  parseEnvironment,
  readEnvironmentFile,
  selectEnvironments,
} from "../../infra/cdk/environments.ts";
import { addEnvironments, addPipeline, placeholdersAllowed } from "../../infra/cdk/gsp-app.ts";
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
/** infra/cdk/app.ts as the CDK CLI runs it, with this context. */
const runApp = (context: Record<string, unknown>) =>
  spawnSync(process.execPath, [join(REPO_ROOT, "infra/cdk/app.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context) },
    encoding: "utf8",
  });
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
    const run = runApp({ env: "staging" });
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

/** An environment as a bank would fill it in: the committed file with the integrator's own values. */
const OWN_VALUES = {
  account: "480923557614",
  alarmEmail: "payments-oncall@invisicash.in",
  googleBaseUrl: "https://vgw.googleapis.com",
  outcomeCallers: ["arn:aws:iam::480923557614:role/integrator-outcome-reporter"],
  customDomain: {
    domainName: "gsp.invisicash.in",
    certificateArn: "arn:aws:acm:ap-south-1:480923557614:certificate/8b1f5c2e-4d7a-4a51-9c3e-2f6d0e7b9a14",
  },
};

describe("environment files (infra/cdk/environments/NAME.json)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gsp-env-files-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: unknown) => {
    writeFileSync(join(dir, `${name}.json`), typeof content === "string" ? content : JSON.stringify(content));
    return readEnvironmentFile(name, dir);
  };
  const file = (name: string) => environmentFile(name, dir);

  it("ENVIRONMENTS is what the committed files say", () => {
    for (const name of ENVIRONMENT_NAMES) {
      assert.deepEqual(ENVIRONMENTS[name], readEnvironmentFile(name));
      assert.equal(environmentFile(name), `infra/cdk/environments/${name}.json`);
    }
  });

  it("a file with the integrator's own values has no placeholder and parses", () => {
    const raw = write("prod", { ...ENVIRONMENTS.prod, ...OWN_VALUES });
    assert.deepEqual(findPlaceholders("prod", raw, dir), []);
    assert.equal(parseEnvironment("prod", raw, dir).account, "480923557614");
  });

  it("a missing file, and a file that is not JSON, are one sentence naming the file", () => {
    assert.throws(
      () => readEnvironmentFile("staging", dir),
      (error: Error) =>
        error.message ===
        `environment "staging": ${file("staging")} is missing: copy another environment's file and edit it`,
    );
    assert.throws(
      () => write("dev", "{ account: 1"),
      new RegExp(`environment "dev": ${file("dev")} is not valid JSON \\(`),
    );
  });

  it("a missing value names the field and the file", () => {
    const { alarmEmail: _dropped, ...rest } = ENVIRONMENTS.sandbox;
    const raw = write("sandbox", rest);
    assert.throws(
      () => parseEnvironment("sandbox", raw, dir),
      (error: Error) =>
        error.message ===
        `invalid configuration for environment "sandbox" (${file("sandbox")}): alarmEmail is missing`,
    );
  });

  const placeholders: [string, Record<string, unknown>, string][] = [
    [
      "an example account",
      { account: "111111111111" },
      'account is still a placeholder ("111111111111": an example account id)',
    ],
    [
      "the documentation's account",
      { account: "123456789012" },
      'account is still a placeholder ("123456789012": an example account id)',
    ],
    [
      "an example.com e-mail",
      { alarmEmail: "gsp-alarms@example.com" },
      'alarmEmail is still a placeholder ("gsp-alarms@example.com": an address at example.com, a domain reserved for examples)',
    ],
    [
      "an example Google URL",
      { googleBaseUrl: "https://google-sandbox-url.example.com" },
      'googleBaseUrl is still a placeholder ("https://google-sandbox-url.example.com": google-sandbox-url.example.com is a domain reserved for examples)',
    ],
    [
      "an outcome caller in an example account",
      { outcomeCallers: [OWN_VALUES.outcomeCallers[0], "arn:aws:iam::333333333333:role/reporter"] },
      'outcomeCallers.1 is still a placeholder ("arn:aws:iam::333333333333:role/reporter": an ARN in the example account 333333333333)',
    ],
    [
      "the example certificate",
      {
        customDomain: {
          domainName: "gsp.invisicash.in",
          certificateArn:
            "arn:aws:acm:ap-south-1:480923557614:certificate/00000000-0000-0000-0000-000000000000",
        },
      },
      'customDomain.certificateArn is still a placeholder ("arn:aws:acm:ap-south-1:480923557614:certificate/00000000-0000-0000-0000-000000000000": an example certificate)',
    ],
    [
      "an example domain",
      { customDomain: { ...OWN_VALUES.customDomain, domainName: "gsp.invisicash.example.com" } },
      'customDomain.domainName is still a placeholder ("gsp.invisicash.example.com": gsp.invisicash.example.com is a domain reserved for examples)',
    ],
    [
      "a pager endpoint on a reserved name",
      { alarmHttpsEndpoint: "https://events.pagerduty.test/sns" },
      'alarmHttpsEndpoint is still a placeholder ("https://events.pagerduty.test/sns": events.pagerduty.test is a domain reserved for examples)',
    ],
  ];
  for (const [what, override, sentence] of placeholders) {
    it(`${what}: one sentence naming the field and the file`, () => {
      const raw = write("prod", { ...ENVIRONMENTS.prod, ...OWN_VALUES, ...override });
      assert.deepEqual(findPlaceholders("prod", raw, dir), [
        `${file("prod")}: ${sentence}; put the integrator's own value there`,
      ]);
    });
  }

  it("synthesis refuses placeholders unless allowed, naming each, before building any stack", () => {
    const { app, cleanup } = newApp();
    cleanups.push(cleanup);
    app.node.setContext("allowPlaceholders", false);
    assert.throws(
      () => addEnvironments(app, "prod"),
      (error: Error) => {
        assert.match(
          error.message,
          /^infra\/cdk\/environments\/prod\.json: account is still a placeholder \("333333333333"/,
        );
        assert.match(error.message, /prod\.json: customDomain\.certificateArn is still a placeholder/);
        assert.match(error.message, /-c allowPlaceholders=true synthesizes anyway, for checks only/);
        return true;
      },
    );
    assert.equal(app.node.children.length, 0, "no stack was built");
  });

  it("the pipeline refuses placeholders in its own file and the environments' unless allowed, and a bad source", () => {
    const { app, cleanup } = newApp();
    cleanups.push(cleanup);
    app.node.setContext("allowPlaceholders", false);
    assert.throws(
      () => addPipeline(app),
      (error: Error) => {
        assert.match(error.message, /infra\/cdk\/environments\/dev\.json: account is still a placeholder/);
        assert.match(
          error.message,
          /infra\/cdk\/environments\/pipeline\.json: source\.connectionArn is still a placeholder \("arn:aws:codestar-connections:ap-south-1:444444444444:connection\/0{8}-/,
        );
        return true;
      },
    );
    assert.equal(app.node.children.length, 0, "no stack was built");
    assert.throws(
      () =>
        addPipeline(emptyApp(), ENVIRONMENTS, {
          account: "444444444444",
          region: "ap-south-1",
          source: { kind: "github" },
        }),
      /^Error: invalid configuration for the pipeline \(infra\/cdk\/environments\/pipeline\.json\): source\.kind /,
    );
  });

  it("unset, placeholders are refused for one environment (a deployment) and allowed for -c env=all (npm run synth)", () => {
    const { app, cleanup } = newApp();
    cleanups.push(cleanup);
    const bare = new App({ outdir: join(dir, "out") });
    assert.equal(placeholdersAllowed(bare, "prod"), false);
    assert.equal(placeholdersAllowed(bare, "all"), true);
    bare.node.setContext("allowPlaceholders", "false");
    assert.equal(placeholdersAllowed(bare, "all"), false);
    assert.equal(placeholdersAllowed(app, "prod"), true, "the tests' app allows them");
  });

  it("cdk deploy's synthesis of one environment (app.ts -c env=prod) exits 1 naming the placeholders", () => {
    const run = runApp({ env: "prod" });
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      /^gsp-integrator: infra\/cdk\/environments\/prod\.json: account is still a placeholder/,
    );
  });
});
