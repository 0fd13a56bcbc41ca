/**
 * The synthesized templates of all three environments (real esbuild bundles, cdk-nag at synthesis),
 * checked against infra/resources.ts and infra/cdk/environments.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { FUNCTION_ACCESS, type TableAccess } from "../../infra/cdk/access.ts";
import { RUNBOOKS } from "../../infra/cdk/constructs/monitoring.ts";
import { ENVIRONMENT_NAMES, ENVIRONMENTS, type EnvironmentName } from "../../infra/cdk/environments.ts";
import { addEnvironments } from "../../infra/cdk/gsp-app.ts";
import { VISIBILITY_TO_TIMEOUT_RATIO } from "../../infra/cdk/gsp-stack.ts";
import {
  type FunctionDefinition,
  type FunctionName,
  functions,
  queues,
  routes,
  stagePrefix,
  type TableDefinition,
  tables,
} from "../../infra/resources.ts";
import { runtimeConfigFrom } from "../../shared/config.ts";
import {
  asList,
  iamStatements,
  logicalId,
  newApp,
  REPO_ROOT,
  type Synthesized,
  synthesizeAll,
} from "./synth.ts";

let synth: Synthesized;
before(() => {
  synth = synthesizeAll();
});
after(() => synth?.cleanup());

const functionNames = Object.keys(functions) as FunctionName[];
/** Every function Google calls, and the notifier: released by canary. */
const CANARIED_FUNCTIONS: FunctionName[] = [
  "capture",
  "asynchronousCapture",
  "refund",
  "echo",
  "notifier",
  "remittanceStatementNotification",
];
const template = (env: EnvironmentName): Template => synth.templates[env];
const resource = (env: EnvironmentName, id: string) => {
  const found = template(env).toJSON().Resources[id];
  assert.ok(found, `${env}: no resource ${id}`);
  return found as { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
};
const fnResource = (env: EnvironmentName, name: FunctionName) =>
  resource(env, logicalId(synth.stacks[env].functions[name].function));
const roleStatements = (env: EnvironmentName, name: FunctionName) => {
  const roleId = logicalId(synth.stacks[env].functions[name].role);
  const policies = template(env).findResources("AWS::IAM::Policy", {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((p) => asList(p.Properties.PolicyDocument.Statement)) as Record<
    string,
    unknown
  >[];
};

describe("functions", () => {
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: every function is Node 24 on arm64 with its definition's memory and timeout, traced, ESM with source maps`, () => {
      const all = template(env).findResources("AWS::Lambda::Function");
      assert.equal(Object.keys(all).length, functionNames.length);
      for (const name of functionNames) {
        const p = fnResource(env, name).Properties;
        assert.equal(p.Runtime, "nodejs24.x", name);
        assert.deepEqual(p.Architectures, ["arm64"], name);
        assert.equal(p.MemorySize, functions[name].memoryMb, name);
        assert.equal(p.Timeout, functions[name].timeoutSeconds, name);
        assert.deepEqual(p.TracingConfig, { Mode: "Active" }, name);
        assert.equal(p.Handler, "index.handler", name);
        const vars = (p.Environment as { Variables: Record<string, unknown> }).Variables;
        assert.equal(vars.NODE_OPTIONS, "--enable-source-maps", name);
        assert.equal(vars.POWERTOOLS_SERVICE_NAME, name);
        assert.equal(vars.POWERTOOLS_METRICS_NAMESPACE, "GspIntegrator");
      }
    });

    it(`${env}: every function logs to its own log group with the environment's retention`, () => {
      const stack = synth.stacks[env];
      for (const name of functionNames) {
        const logs = logicalId(stack.functions[name].logGroup);
        assert.deepEqual(fnResource(env, name).Properties.LoggingConfig, { LogGroup: { Ref: logs } }, name);
        assert.equal(resource(env, logs).Properties.RetentionInDays, stack.config.logRetentionDays, name);
      }
    });

    it(`${env}: each function's environment is exactly what runtimeConfigFrom reads, and it parses`, () => {
      const stack = synth.stacks[env];
      const json = template(env).toJSON().Resources as Record<
        string,
        { Properties: Record<string, unknown> }
      >;
      // What CloudFormation's Ref gives: a table's name, a queue's URL.
      const resolveRef = (value: unknown): string => {
        if (typeof value === "string") return value;
        const ref = (value as { Ref?: string }).Ref;
        const target = ref ? json[ref] : undefined;
        if (target?.Properties.TableName) return target.Properties.TableName as string;
        if (target?.Properties.QueueName) {
          return `https://sqs.${stack.region}.amazonaws.com/${stack.account}/${target.Properties.QueueName}`;
        }
        throw new Error(`unexpected environment value ${JSON.stringify(value)}`);
      };
      for (const name of functionNames) {
        const definition = functions[name] as (typeof functions)[FunctionName] & {
          sendsTo?: readonly string[];
          consumes?: { queue: string };
        };
        const raw = (fnResource(env, name).Properties.Environment as { Variables: Record<string, unknown> })
          .Variables;
        const vars = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, resolveRef(v)]));
        const config = runtimeConfigFrom(vars);
        assert.equal(config.stage, env);
        assert.equal(config.messageCodec, "openpgp", name);
        assert.deepEqual(config.tables, {
          ledger: `gsp-${env}-ledger`,
          captures: `gsp-${env}-captures`,
          refunds: `gsp-${env}-refunds`,
          statements: `gsp-${env}-statements`,
        });
        assert.equal(config.refundNotifications, true, "refundResultNotification on by default");
        assert.deepEqual(config.piaids, stack.config.piaids);
        assert.equal(config.googleBaseUrl, stack.config.googleBaseUrl);
        assert.equal(config.ledgerTimeZone, stack.config.ledgerTimeZone);
        assert.equal(config.captureDeadlineSeconds, stack.config.captureDeadlineSeconds);
        assert.deepEqual(config.keys, {
          source: "secretsmanager",
          ownSecretId: stack.config.secrets.ourKeys,
          googleSecretId: stack.config.secrets.googleKeys,
        });
        const used = new Set([
          ...(definition.sendsTo ?? []),
          ...(definition.consumes ? [definition.consumes.queue] : []),
        ]);
        const urlOf = (queue: string) =>
          used.has(queue)
            ? `https://sqs.${stack.region}.amazonaws.com/${stack.account}/gsp-${env}-${queue}`
            : undefined;
        assert.equal(config.notificationsQueueUrl, urlOf("notifications"), name);
        assert.equal(config.statementsQueueUrl, urlOf("statements"), name);
        assert.equal(vars.KEYS_DIR, undefined, name);
      }
    });

    it(`${env}: reserved concurrency is set exactly where the environment asks for it, and always for the routes' functions and the notifier`, () => {
      const reserved = synth.stacks[env].config.reservedConcurrency as Partial<Record<FunctionName, number>>;
      for (const name of functionNames) {
        assert.equal(fnResource(env, name).Properties.ReservedConcurrentExecutions, reserved[name], name);
      }
      for (const name of [...routes.map((r) => r.function), "notifier"] as FunctionName[]) {
        assert.ok((fnResource(env, name).Properties.ReservedConcurrentExecutions as number) > 0, name);
      }
    });

    it(`${env}: only the outcome function is told which roles may call it, and they are the environment's`, () => {
      for (const name of functionNames) {
        const vars = (fnResource(env, name).Properties.Environment as { Variables: Record<string, unknown> })
          .Variables;
        const iamRoute = routes.some((r) => r.function === name && r.auth === "iam");
        assert.equal(
          vars.OUTCOME_CALLER_ARNS,
          iamRoute ? synth.stacks[env].config.outcomeCallers.join(",") : undefined,
          name,
        );
      }
    });
  }

  it("each bundle is ESM that imports cleanly under Node and exports a handler function", async () => {
    // @aws-sdk/* is left out of the bundles: the Lambda runtime provides it, here the repository does.
    symlinkSync(join(REPO_ROOT, "node_modules"), join(synth.outdir, "node_modules"), "dir");
    const stack = synth.stacks.dev;
    for (const name of functionNames) {
      const metadata = template("dev").toJSON().Resources[logicalId(stack.functions[name].function)].Metadata;
      const bundle = join(synth.outdir, metadata["aws:asset:path"], "index.mjs");
      const code = readFileSync(bundle, "utf8");
      // The banner gives any CommonJS dependency a real require.
      assert.match(code, /^import \{ createRequire as __gspCreateRequire \} from 'node:module';/, name);
      assert.ok(code.split("\n").length < code.length / 1000, `${name}: minified`);
      assert.match(code, /\/\/# sourceMappingURL=index\.mjs\.map\s*$/, name);
      assert.ok(existsSync(`${bundle}.map`), `${name}: source map shipped`);
      // OpenPGP (about 370 KiB minified) only in the bundles of functions that hold keys.
      const definition: FunctionDefinition = functions[name];
      const holdsKeys = Boolean(definition.servesGoogle || definition.callsGoogle);
      assert.equal(
        code.includes("OpenPGP.js"),
        holdsKeys,
        `${name}: openpgp bundled only where keys are used`,
      );
      // The SQS SDK loads on a function's first send: only a queue's consumer imports it at cold start.
      if (!definition.consumes)
        assert.doesNotMatch(
          code,
          /from\s*"@aws-sdk\/client-sqs"/,
          `${name}: no static import of the SQS client`,
        );
      const module = await import(pathToFileURL(bundle).href);
      assert.equal(typeof module.handler, "function", `${name}: ${bundle}`);
    }
  });

  it("openpgp's rarely used algorithms ship beside a keyed function's bundle, not in it, and load from there", () => {
    // A message each inlined copy carries that openpgp's main code does not (curves, CAST5/DES, argon2, bzip2, ed25519, SHA-3).
    const inlinedMarkers = [
      "Cannot find square root",
      "CAST-128: keys must be 16 bytes",
      "BigEndian system not supported",
      "Invalid bzip data",
      "bad secret key size",
      "XOF is not possible for this instance",
    ];
    const lazyModules = [
      "noble_curves",
      "noble_hashes",
      "nacl-fast",
      "legacy_ciphers",
      "argon2id",
      "unbzip2-stream",
    ];
    const probe = `for (const m of ${JSON.stringify(lazyModules)}) { const ns = await import("openpgp/lazy/" + m); console.log(import.meta.resolve("openpgp/lazy/" + m), Object.keys(ns).length); }`;
    const stack = synth.stacks.dev;
    for (const name of functionNames) {
      const metadata = template("dev").toJSON().Resources[logicalId(stack.functions[name].function)].Metadata;
      const assetDir = join(synth.outdir, metadata["aws:asset:path"]);
      const code = readFileSync(join(assetDir, "index.mjs"), "utf8");
      if (!stack.functions[name].holdsKeys) {
        assert.equal(existsSync(join(assetDir, "node_modules")), false, `${name}: nothing shipped beside`);
        continue;
      }
      assert.match(code, /import\("openpgp\/lazy\/noble_curves"\)/, `${name}: loads the curves lazily`);
      for (const marker of inlinedMarkers) assert.equal(code.includes(marker), false, `${name}: ${marker}`);
      // Resolved from the asset itself: the folder above it (cdk.out) links this repository's node_modules.
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
        cwd: assetDir,
        encoding: "utf8",
      });
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      const lines = run.stdout.trim().split("\n");
      assert.equal(lines.length, lazyModules.length, run.stdout);
      for (const line of lines) {
        const [url, exports] = line.split(" ");
        assert.ok(
          url!.startsWith(pathToFileURL(join(assetDir, "node_modules", "openpgp")).href),
          `${name}: ${url}`,
        );
        assert.ok(Number(exports) >= 1, `${name}: ${line}`);
      }
    }
  });
});

describe("tables", () => {
  const keySchema = (d: TableDefinition) => [
    { AttributeName: d.partitionKey.name, KeyType: "HASH" },
    ...(d.sortKey ? [{ AttributeName: d.sortKey.name, KeyType: "RANGE" }] : []),
  ];
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: named ${stagePrefix(env)}<name>, keyed and indexed as defined, on-demand, PITR, encrypted`, () => {
      for (const [key, definition] of Object.entries(tables) as [keyof typeof tables, TableDefinition][]) {
        const p = resource(env, logicalId(synth.stacks[env].tables[key])).Properties;
        assert.equal(p.TableName, `${stagePrefix(env)}${definition.name}`);
        assert.deepEqual(p.KeySchema, keySchema(definition));
        assert.equal(p.BillingMode, "PAY_PER_REQUEST");
        assert.deepEqual(p.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
        assert.deepEqual(p.SSESpecification, {
          SSEEnabled: true,
          SSEType: "KMS",
          KMSMasterKeyId: { "Fn::GetAtt": [logicalId(synth.stacks[env].keys.keys.tables), "Arn"] },
        });
        assert.deepEqual(
          p.GlobalSecondaryIndexes,
          definition.indexes?.map((index) => ({
            IndexName: index.name,
            KeySchema: keySchema(index as unknown as TableDefinition),
            Projection: {
              ProjectionType: index.projection,
              ...("include" in index && { NonKeyAttributes: [...(index.include as readonly string[])] }),
            },
          })),
        );
      }
    });
  }

  it("prod: deletion protection and RETAIN; dev and sandbox: neither", () => {
    for (const env of ENVIRONMENT_NAMES) {
      const protectedData = env === "prod";
      const found = template(env).findResources("AWS::DynamoDB::Table");
      assert.equal(Object.keys(found).length, Object.keys(tables).length);
      for (const [id, table] of Object.entries(found)) {
        assert.equal(table.Properties.DeletionProtectionEnabled, protectedData, `${env} ${id}`);
        assert.equal(table.DeletionPolicy, protectedData ? "Retain" : "Delete", `${env} ${id}`);
        assert.equal(table.UpdateReplacePolicy, protectedData ? "Retain" : "Delete", `${env} ${id}`);
      }
    }
    assert.equal(synth.stacks.prod.terminationProtection, true);
    assert.equal(synth.stacks.dev.terminationProtection, false);
  });
});

describe("notifications queue", () => {
  const definition = queues.notifications;
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: redrives to its DLQ after maxReceiveCount, both encrypted and TLS-only`, () => {
      const stack = synth.stacks[env];
      const queue = resource(env, logicalId(stack.queues.notifications)).Properties;
      const dlqId = logicalId(stack.deadLetterQueues.notifications!);
      const dlq = resource(env, dlqId).Properties;
      assert.equal(queue.QueueName, `gsp-${env}-notifications`);
      assert.equal(dlq.QueueName, `gsp-${env}-notifications-dlq`);
      assert.deepEqual(queue.RedrivePolicy, {
        deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] },
        maxReceiveCount: definition.deadLetter.maxReceiveCount,
      });
      assert.equal(queue.MessageRetentionPeriod, definition.retentionSeconds);
      assert.equal(dlq.MessageRetentionPeriod, 14 * 24 * 3600);
      assert.equal(dlq.MessageRetentionPeriod, definition.deadLetter.retentionSeconds);
      for (const p of [queue, dlq]) {
        assert.deepEqual(p.KmsMasterKeyId, {
          "Fn::GetAtt": [logicalId(stack.keys.keys.queues), "Arn"],
        });
      }
      const tlsOnly = template(env).findResources("AWS::SQS::QueuePolicy", {
        Properties: {
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: "Deny",
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              }),
            ]),
          },
        },
      });
      assert.equal(Object.keys(tlsOnly).length, 2 * Object.keys(queues).length, "every queue and its DLQ");
    });

    it(`${env}: visibility timeout from the definition, at least ${VISIBILITY_TO_TIMEOUT_RATIO}x the notifier's timeout`, () => {
      const queue = resource(env, logicalId(synth.stacks[env].queues.notifications)).Properties;
      const notifierTimeout = fnResource(env, "notifier").Properties.Timeout as number;
      assert.equal(queue.VisibilityTimeout, definition.visibilityTimeoutSeconds);
      assert.ok(
        (queue.VisibilityTimeout as number) >= VISIBILITY_TO_TIMEOUT_RATIO * notifierTimeout,
        `visibility ${queue.VisibilityTimeout} s vs notifier timeout ${notifierTimeout} s`,
      );
    });

    it(`${env}: feeds the notifier in batches of the defined size, reporting item failures`, () => {
      const stack = synth.stacks[env];
      template(env).resourceCountIs(
        "AWS::Lambda::EventSourceMapping",
        Object.values(functions).filter((f) => "consumes" in f).length,
      );
      template(env).hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        EventSourceArn: { "Fn::GetAtt": [logicalId(stack.queues.notifications), "Arn"] },
        // The live alias: a canary release shifts the queue's traffic too.
        FunctionName: {
          "Fn::Join": [
            "",
            [
              {
                "Fn::Select": [
                  6,
                  { "Fn::Split": [":", { Ref: logicalId(stack.functions.notifier.alias!) }] },
                ],
              },
              ":live",
            ],
          ],
        },
        BatchSize: functions.notifier.consumes.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: functions.notifier.consumes.maxConcurrency },
      });
      // Never more pollers than the function may run at once: a throttled receive would burn a receive count.
      assert.ok(
        functions.notifier.consumes.maxConcurrency <=
          (fnResource(env, "notifier").Properties.ReservedConcurrentExecutions as number),
      );
      const consume = roleStatements(env, "notifier").find((s) =>
        asList(s.Action).includes("sqs:ReceiveMessage"),
      );
      assert.ok(consume, "the notifier may receive from its queue");
      assert.ok(asList(consume.Action).includes("sqs:ChangeMessageVisibility"));
      assert.deepEqual(consume.Resource, { "Fn::GetAtt": [logicalId(stack.queues.notifications), "Arn"] });
    });
  }
});

describe("APIs and edge", () => {
  const apiOf = (env: EnvironmentName, which: "googleApi" | "outcomeApi") => synth.stacks[env][which];
  const methodsOf = (env: EnvironmentName, which: "googleApi" | "outcomeApi") => {
    const apiId = logicalId(apiOf(env, which).api);
    return Object.values(template(env).findResources("AWS::ApiGateway::Method")).filter(
      (m) => (m.Properties.RestApiId as { Ref: string }).Ref === apiId,
    );
  };
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: Google's routes on the public API with no AWS auth; the outcome route alone on its own IAM-only API`, () => {
      template(env).resourceCountIs("AWS::ApiGateway::RestApi", 2);
      template(env).resourceCountIs("AWS::ApiGatewayV2::Api", 0);
      const google = methodsOf(env, "googleApi");
      const outcome = methodsOf(env, "outcomeApi");
      assert.equal(google.length, routes.filter((r) => r.auth === "envelope").length);
      assert.equal(outcome.length, routes.filter((r) => r.auth === "iam").length);
      for (const m of google) assert.equal(m.Properties.AuthorizationType, "NONE");
      for (const m of outcome) assert.equal(m.Properties.AuthorizationType, "AWS_IAM");
      const stack = synth.stacks[env];
      for (const route of routes) {
        const which = route.auth === "iam" ? "outcomeApi" : "googleApi";
        const method = apiOf(env, which).methods.get(`${route.method} ${route.path}`);
        assert.ok(method, `${route.path} on ${which}`);
        const p = resource(env, logicalId(method)).Properties;
        assert.equal(p.HttpMethod, route.method);
        assert.equal((p.Integration as { Type: string }).Type, "AWS_PROXY");
        const uri = JSON.stringify((p.Integration as { Uri: unknown }).Uri);
        assert.match(uri, /:apigateway:[a-z0-9-]+:lambda:path\/2015-03-31\/functions\//);
        // Google's routes invoke the live alias (canary releases), never $LATEST; the outcome route its function.
        const target = stack.functions[route.function];
        assert.equal(target.alias !== undefined, route.auth === "envelope", route.path);
        assert.ok(
          uri.includes(
            JSON.stringify(
              target.alias
                ? { Ref: logicalId(target.alias) }
                : { "Fn::GetAtt": [logicalId(target.function), "Arn"] },
            ),
          ),
          `${route.path} invokes ${route.function}${target.alias ? "'s live alias" : ""}`,
        );
      }
    });

    it(`${env}: the outcome API's resource policy admits the configured roles and denies every other principal`, () => {
      const stack = synth.stacks[env];
      const policy = resource(env, logicalId(stack.outcomeApi.api)).Properties.Policy as {
        Statement: Record<string, unknown>[];
      };
      const roles = stack.config.outcomeCallers;
      assert.deepEqual(policy.Statement, [
        {
          Action: "execute-api:Invoke",
          Condition: { ArnEquals: { "aws:PrincipalArn": roles } },
          Effect: "Allow",
          Principal: { AWS: "*" },
          Resource: "execute-api:/*",
        },
        {
          Action: "execute-api:Invoke",
          Condition: { ArnNotEquals: { "aws:PrincipalArn": roles } },
          Effect: "Deny",
          Principal: { AWS: "*" },
          Resource: "execute-api:/*",
        },
      ]);
      assert.equal(resource(env, logicalId(stack.googleApi.api)).Properties.Policy, undefined);
    });

    it(`${env}: each stage traced, access-logged (KMS) and throttled per route from config`, () => {
      const stack = synth.stacks[env];
      for (const which of ["googleApi", "outcomeApi"] as const) {
        const api = apiOf(env, which);
        const stage = resource(env, logicalId(api.api.deploymentStage)).Properties;
        assert.equal(stage.StageName, "live");
        assert.equal(stage.TracingEnabled, true);
        const settings = stage.MethodSettings as Record<string, unknown>[];
        const served = routes.filter((r) => (r.auth === "iam") === (which === "outcomeApi"));
        for (const path of ["/*", ...served.map((r) => `/~1${r.path.slice(1).replaceAll("/", "~1")}`)]) {
          const s = settings.find((m) => m.ResourcePath === path);
          assert.ok(s, `${which} ${path}: ${JSON.stringify(settings.map((m) => m.ResourcePath))}`);
          assert.equal(s.ThrottlingRateLimit, stack.config.api.throttlingRateLimit);
          assert.equal(s.ThrottlingBurstLimit, stack.config.api.throttlingBurstLimit);
          assert.equal(s.DataTraceEnabled, false, "no bodies in execution logs");
        }
        const logs = resource(env, logicalId(api.accessLogs)).Properties;
        assert.equal(logs.RetentionInDays, stack.config.logRetentionDays);
        assert.deepEqual(logs.KmsKeyId, { "Fn::GetAtt": [logicalId(stack.keys.keys.logs), "Arn"] });
      }
    });

    it(`${env}: a WAF on each API's stage: rate per IP, body size, IP reputation; Google's source allow-list only where configured`, () => {
      const stack = synth.stacks[env];
      for (const which of ["googleApi", "outcomeApi"] as const) {
        const api = apiOf(env, which);
        const acl = resource(env, logicalId(api.waf.webAcl)).Properties;
        assert.equal(acl.Scope, "REGIONAL");
        const rules = acl.Rules as {
          Name: string;
          Statement: {
            RateBasedStatement?: unknown;
            SizeConstraintStatement: { Size: number; FieldToMatch: { Body: { OversizeHandling: string } } };
          };
        }[];
        const byName = Object.fromEntries(rules.map((r) => [r.Name, r.Statement]));
        assert.deepEqual(byName["rate-per-ip"]!.RateBasedStatement, {
          Limit: stack.config.waf.rateLimitPer5Minutes,
          AggregateKeyType: "IP",
          EvaluationWindowSec: 300,
        });
        assert.equal(byName["body-size"]!.SizeConstraintStatement.Size, stack.config.waf.maxBodyBytes);
        assert.equal(
          byName["body-size"]!.SizeConstraintStatement.FieldToMatch.Body.OversizeHandling,
          "MATCH",
        );
        assert.ok(byName["aws-ip-reputation"]);
        assert.equal(
          "only-allowed-sources" in byName,
          which === "googleApi" && !!stack.config.waf.googleSourceCidrs,
        );
        template(env).hasResourceProperties("AWS::WAFv2::WebACLAssociation", {
          ResourceArn: Match.objectLike({ "Fn::Join": Match.anyValue() }),
          WebACLArn: { "Fn::GetAtt": [logicalId(api.waf.webAcl), "Arn"] },
        });
      }
      template(env).resourceCountIs("AWS::WAFv2::WebACLAssociation", 2);
    });
  }

  it("the Google source allow-list blocks whatever is not in the configured ranges", () => {
    const { app, cleanup } = newApp();
    try {
      const configs = {
        ...ENVIRONMENTS,
        dev: {
          ...ENVIRONMENTS.dev,
          waf: { ...ENVIRONMENTS.dev.waf, googleSourceCidrs: ["198.51.100.0/24", "2001:db8::/32"] },
        },
      };
      const [stack] = addEnvironments(app, "dev", configs);
      const t = Template.fromStack(stack!);
      const acl = t.toJSON().Resources[logicalId(stack!.googleApi.waf.webAcl)].Properties;
      const rule = acl.Rules.find((r: { Name: string }) => r.Name === "only-allowed-sources");
      assert.deepEqual(rule.Action, { Block: {} });
      assert.equal(rule.Priority, 0);
      const sets = Object.values(t.findResources("AWS::WAFv2::IPSet")).map((r) => r.Properties);
      assert.deepEqual(sets.map((p) => [p.IPAddressVersion, p.Addresses]).sort(), [
        ["IPV4", ["198.51.100.0/24"]],
        ["IPV6", ["2001:db8::/32"]],
      ]);
      assert.equal(rule.Statement.NotStatement.Statement.OrStatement.Statements.length, 2);
    } finally {
      cleanup();
    }
  });

  it("a custom domain only where configured (prod): TLS 1.2 minimum with forward secrecy, STRICT, the only way in", () => {
    template("prod").hasResourceProperties("AWS::ApiGateway::DomainName", {
      DomainName: synth.stacks.prod.config.customDomain!.domainName,
      RegionalCertificateArn: synth.stacks.prod.config.customDomain!.certificateArn,
      EndpointConfiguration: { Types: ["REGIONAL"] },
      SecurityPolicy: "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
      EndpointAccessMode: "STRICT",
    });
    template("prod").resourceCountIs("AWS::ApiGateway::BasePathMapping", 1);
    template("prod").hasResourceProperties("AWS::ApiGateway::BasePathMapping", {
      RestApiId: { Ref: logicalId(synth.stacks.prod.googleApi.api) },
    });
    assert.equal(
      resource("prod", logicalId(synth.stacks.prod.googleApi.api)).Properties.DisableExecuteApiEndpoint,
      true,
    );
    for (const env of ["dev", "sandbox"] as const) {
      template(env).resourceCountIs("AWS::ApiGateway::DomainName", 0);
      assert.equal(
        resource(env, logicalId(synth.stacks[env].googleApi.api)).Properties.DisableExecuteApiEndpoint,
        false,
      );
    }
  });
});

describe("IAM", () => {
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: no statement anywhere grants an action with a wildcard`, () => {
      const statements = iamStatements(template(env));
      assert.ok(statements.length > 0);
      for (const { resource: id, statement } of statements) {
        for (const action of [...asList(statement.Action), ...asList(statement.NotAction)]) {
          assert.ok(typeof action === "string" && !action.includes("*"), `${env} ${id}: action ${action}`);
        }
      }
    });

    it(`${env}: each function may use exactly the tables its definition names`, () => {
      const stack = synth.stacks[env];
      for (const name of functionNames) {
        const granted = roleStatements(env, name)
          .filter((s) => asList(s.Action).some((a) => String(a).startsWith("dynamodb:")))
          .flatMap((s) => asList(s.Resource))
          .filter((r) => (r as { "Fn::GetAtt"?: unknown })["Fn::GetAtt"])
          .map((r) => (r as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0])
          .sort();
        const expected = functions[name].tables.map((t) => logicalId(stack.tables[t])).sort();
        assert.deepEqual(granted, expected, name);
      }
    });

    it(`${env}: the keyring secrets are referenced by name, never created, and read only by functions that need keys`, () => {
      const stack = synth.stacks[env];
      template(env).resourceCountIs("AWS::SecretsManager::Secret", 0);
      const secretArn = (secret: string) =>
        `arn:aws:secretsmanager:${stack.region}:${stack.account}:secret:${secret}-??????`;
      for (const name of functionNames) {
        const definition = functions[name] as {
          servesGoogle?: boolean;
          callsGoogle?: boolean;
          checksOtps?: boolean;
        };
        const statements = roleStatements(env, name).filter((s) =>
          asList(s.Action).some((a) => String(a).startsWith("secretsmanager:")),
        );
        if (definition.servesGoogle || definition.callsGoogle) {
          assert.equal(statements.length, 1, name);
          assert.deepEqual(asList(statements[0]!.Action).sort(), [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
          ]);
          assert.deepEqual(
            asList(statements[0]!.Resource).sort(),
            [
              secretArn(stack.config.secrets.googleKeys),
              secretArn(stack.config.secrets.ourKeys),
              // The OTP pepper only where OTPs are checked.
              ...(definition.checksOtps ? [secretArn(stack.config.secrets.otpPepper)] : []),
            ].sort(),
          );
        } else {
          assert.deepEqual(statements, [], `${name} must not read the keyrings`);
        }
      }
    });

    it(`${env}: each function's DynamoDB actions are exactly infra/cdk/access.ts: never Scan, DeleteItem or BatchWriteItem; the sweeper has no ledger access`, () => {
      const stack = synth.stacks[env];
      for (const name of functionNames) {
        const granted = new Map<string, string[]>();
        for (const statement of roleStatements(env, name)) {
          const actions = asList(statement.Action) as string[];
          if (!actions.some((a) => a.startsWith("dynamodb:"))) continue;
          for (const r of asList(statement.Resource)) {
            const key = JSON.stringify(r);
            granted.set(key, [...(granted.get(key) ?? []), ...actions].sort());
          }
        }
        const expected = new Map<string, string[]>();
        for (const [table, access] of Object.entries(FUNCTION_ACCESS[name]) as [
          keyof typeof tables,
          TableAccess,
        ][]) {
          const arn = { "Fn::GetAtt": [logicalId(stack.tables[table]), "Arn"] };
          expected.set(JSON.stringify(arn), access.actions.map((a) => `dynamodb:${a}`).sort());
          for (const index of access.queries ?? []) {
            expected.set(JSON.stringify({ "Fn::Join": ["", [arn, `/index/${index}`]] }), ["dynamodb:Query"]);
          }
        }
        assert.deepEqual(Object.fromEntries(granted), Object.fromEntries(expected), name);
        for (const forbidden of ["dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]) {
          assert.ok(![...granted.values()].flat().includes(forbidden), `${name}: ${forbidden}`);
        }
      }
      const ledgerArn = JSON.stringify({ "Fn::GetAtt": [logicalId(stack.tables.ledger), "Arn"] });
      assert.ok(
        !roleStatements(env, "sweeper").some((st) =>
          asList(st.Resource).some((r) => JSON.stringify(r).includes(ledgerArn.slice(1, -1))),
        ),
        "the sweeper has no right on the ledger",
      );
    });

    it(`${env}: customer-managed keys with rotation; each function may use only the keys of what it touches, through that service`, () => {
      const stack = synth.stacks[env];
      const keyIds = Object.fromEntries(
        Object.entries(stack.keys.keys).map(([purpose, key]) => [logicalId(key), purpose]),
      );
      for (const [id, purpose] of Object.entries(keyIds)) {
        const key = resource(env, id);
        assert.equal(key.Properties.EnableKeyRotation, true, purpose);
        assert.equal(key.DeletionPolicy, stack.config.retainData ? "Retain" : "Delete", purpose);
      }
      for (const name of functionNames) {
        const definition = functions[name] as FunctionDefinition;
        const uses = new Map<string, string[]>();
        for (const statement of roleStatements(env, name)) {
          const actions = asList(statement.Action) as string[];
          if (!actions.some((a) => a.startsWith("kms:"))) continue;
          for (const r of asList(statement.Resource)) {
            const purpose = keyIds[(r as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0]];
            assert.ok(purpose, `${name}: kms on ${JSON.stringify(r)}`);
            uses.set(purpose, [...(uses.get(purpose) ?? []), ...actions]);
          }
        }
        assert.deepEqual(
          [...uses.keys()].sort(),
          [
            ...(definition.tables.length > 0 ? ["tables"] : []),
            ...((definition.sendsTo?.length ?? 0) > 0 || definition.consumes ? ["queues"] : []),
            ...(definition.servesGoogle || definition.callsGoogle ? ["keyrings"] : []),
          ].sort(),
          name,
        );
        assert.deepEqual(uses.get("keyrings") ?? ["kms:Decrypt"], ["kms:Decrypt"], name);
      }
      // Every log group (functions, access logs) is encrypted with the logs key.
      for (const [id, group] of Object.entries(template(env).findResources("AWS::Logs::LogGroup"))) {
        assert.deepEqual(
          group.Properties.KmsKeyId,
          { "Fn::GetAtt": [logicalId(stack.keys.keys.logs), "Arn"] },
          id,
        );
      }
    });

    it(`${env}: only the functions that enqueue may send to a queue, and only the notifier to its DLQ`, () => {
      const stack = synth.stacks[env];
      const arnOf = (queue: IConstruct) => ({ "Fn::GetAtt": [logicalId(queue), "Arn"] });
      for (const name of functionNames) {
        const sendsTo = roleStatements(env, name)
          .filter((st) => asList(st.Action).includes("sqs:SendMessage"))
          .flatMap((st) => asList(st.Resource));
        const definition = functions[name] as {
          sendsTo?: readonly (keyof typeof stack.queues)[];
          consumes?: { queue: string };
        };
        const notifier = definition.consumes?.queue === "notifications";
        assert.deepEqual(
          sendsTo,
          [
            ...(definition.sendsTo ?? []).map((q) => arnOf(stack.queues[q])),
            ...(notifier ? [arnOf(stack.deadLetterQueues.notifications!)] : []),
          ],
          name,
        );
        const vars = (fnResource(env, name).Properties.Environment as { Variables: Record<string, unknown> })
          .Variables;
        assert.equal(vars.NOTIFICATIONS_DLQ_URL !== undefined, notifier, name);
      }
    });
  }
});

describe("sweeper schedule", () => {
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: an EventBridge rule runs the sweeper every ${functions.sweeper.schedule.everyMinutes} minute(s)`, () => {
      const minutes = functions.sweeper.schedule.everyMinutes;
      template(env).resourceCountIs("AWS::Events::Rule", 1);
      template(env).hasResourceProperties("AWS::Events::Rule", {
        ScheduleExpression: `rate(${minutes} ${minutes === 1 ? "minute" : "minutes"})`,
        State: "ENABLED",
        Targets: [
          Match.objectLike({
            Arn: { "Fn::GetAtt": [logicalId(synth.stacks[env].functions.sweeper.function), "Arn"] },
          }),
        ],
      });
      // A failed run is not retried on top of the next one.
      template(env).hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: logicalId(synth.stacks[env].functions.sweeper.function) },
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: minutes * 60,
      });
    });
  }
});

describe("monitoring", () => {
  const expectedAlarms = (env: EnvironmentName) => [
    "notifications-dlq-not-empty",
    "notifications-oldest-message-age",
    "oldest-due-record-age",
    "google-verification-failed",
    "statements-not-reconciled",
    "statements-dlq-not-empty",
    "envelope-rejected-spike",
    ...functionNames.flatMap((f) => [`${f}-errors`, `${f}-throttles`]),
    ...Object.keys(tables).flatMap((t) => [`${t}-table-throttles`, `${t}-table-system-errors`]),
    "sweeper-not-running",
    "api-5xx",
    "outcome-api-5xx",
    ...(env === "prod" ? ["google-traffic-stopped"] : []),
    "capture-latency-p99",
    ...CANARIED_FUNCTIONS.map((f) => `${f}-duration-p99`),
    "keys-skipped",
    "key-expires-within-30-days",
  ];
  const alarmOf = (env: EnvironmentName, name: string) =>
    Object.values(
      template(env).findResources("AWS::CloudWatch::Alarm", {
        Properties: { AlarmName: `gsp-${env}-${name}` },
      }),
    )[0]!.Properties;

  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: every alarm exists and notifies the encrypted alarm topic`, () => {
      const stack = synth.stacks[env];
      const topic = logicalId(stack.monitoring.topic);
      const alarms = Object.values(template(env).findResources("AWS::CloudWatch::Alarm"));
      assert.deepEqual(
        alarms.map((a) => a.Properties.AlarmName).sort(),
        expectedAlarms(env)
          .map((n) => `gsp-${env}-${n}`)
          .sort(),
      );
      for (const alarm of alarms) {
        assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topic }], alarm.Properties.AlarmName);
        assert.deepEqual(alarm.Properties.OKActions, [{ Ref: topic }], alarm.Properties.AlarmName);
      }
      const topicProps = resource(env, topic).Properties;
      assert.ok(topicProps.KmsMasterKeyId, "the alarm topic is encrypted");
      template(env).hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: stack.config.alarmEmail,
        TopicArn: { Ref: topic },
      });
      template(env).resourceCountIs("AWS::SNS::Subscription", stack.config.alarmHttpsEndpoint ? 2 : 1);
      template(env).hasResourceProperties("AWS::KMS::Key", {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: ["kms:Decrypt", "kms:GenerateDataKey"],
            }),
          ]),
        },
      });
    });

    it(`${env}: each alarm names its runbook section, and that section exists in infra/cdk/DEPLOY.md`, () => {
      const anchors = deployAnchors();
      for (const name of expectedAlarms(env)) {
        const description = alarmOf(env, name).AlarmDescription as string;
        const link = /Runbook: infra\/cdk\/DEPLOY\.md#([a-z0-9-]+)$/.exec(description);
        assert.ok(link, `${name}: ${description}`);
        assert.ok(anchors.has(link[1]!), `${name}: no section #${link[1]} in DEPLOY.md`);
      }
      for (const runbook of Object.values(RUNBOOKS)) assert.ok(anchors.has(runbook), `#${runbook}`);
    });

    it(`${env}: the alarms watch the right metrics`, () => {
      const stack = synth.stacks[env];
      const dlq = alarmOf(env, "notifications-dlq-not-empty");
      assert.equal(dlq.MetricName, "ApproximateNumberOfMessagesVisible");
      assert.deepEqual(dlq.Dimensions, [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [logicalId(stack.deadLetterQueues.notifications!), "QueueName"] },
        },
      ]);
      assert.equal(dlq.Threshold, 0);
      assert.equal(dlq.ComparisonOperator, "GreaterThanThreshold");

      const due = alarmOf(env, "oldest-due-record-age");
      assert.equal(due.Namespace, "GspIntegrator");
      assert.equal(due.MetricName, "OldestDueRecordAgeSeconds");
      assert.deepEqual(due.Dimensions, [{ Name: "service", Value: "sweeper" }]);
      assert.equal(due.Statistic, "Maximum");

      const statements = alarmOf(env, "statements-not-reconciled");
      assert.equal(statements.MetricName, "StatementNotReconciled");
      assert.deepEqual(statements.Dimensions, [{ Name: "service", Value: "reconciler" }]);
      assert.equal(statements.Statistic, "Sum");
      assert.equal(statements.Threshold, 0, "one statement that does not reconcile is one too many");

      const envelope = alarmOf(env, "envelope-rejected-spike");
      assert.equal(envelope.MetricName, "EnvelopeRejected");
      assert.deepEqual(envelope.Dimensions, [{ Name: "service", Value: "envelope" }]);
      assert.equal(envelope.Statistic, "Sum");
      assert.ok((envelope.Threshold as number) > 0, "a spike, not a single bad request");

      for (const name of functionNames) {
        for (const [suffix, metric] of [
          ["errors", "Errors"],
          ["throttles", "Throttles"],
        ]) {
          const a = alarmOf(env, `${name}-${suffix}`);
          assert.equal(a.Namespace, "AWS/Lambda");
          assert.equal(a.MetricName, metric);
          assert.deepEqual(a.Dimensions, [
            { Name: "FunctionName", Value: { Ref: logicalId(stack.functions[name].function) } },
          ]);
          assert.equal(a.Threshold, 0);
        }
      }
      for (const table of Object.keys(tables) as (keyof typeof tables)[]) {
        for (const [suffix, metric] of [
          ["throttles", "ThrottledRequests"],
          ["system-errors", "SystemErrors"],
        ]) {
          const a = alarmOf(env, `${table}-table-${suffix}`);
          const metrics = a.Metrics as {
            MetricStat?: { Metric: { MetricName: string; Dimensions: unknown[] } };
          }[];
          const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat!.Metric);
          assert.ok(stats.length >= 5, `${table} ${suffix}: one metric per operation`);
          for (const m of stats) {
            assert.equal(m.MetricName, metric);
            assert.deepEqual(
              (m.Dimensions as { Name: string; Value: unknown }[]).find((d) => d.Name === "TableName")?.Value,
              {
                Ref: logicalId(stack.tables[table]),
              },
            );
          }
        }
      }

      const sweeper = alarmOf(env, "sweeper-not-running");
      assert.equal(sweeper.MetricName, "Invocations");
      assert.equal(sweeper.ComparisonOperator, "LessThanThreshold");
      assert.equal(sweeper.Threshold, 1);
      assert.equal(sweeper.TreatMissingData, "breaching", "a sweeper that never runs publishes nothing");

      const skipped = alarmOf(env, "keys-skipped");
      const expiry = alarmOf(env, "key-expires-within-30-days");
      assert.deepEqual(
        [skipped, expiry].map((a) => [a.MetricName, a.Dimensions, a.Threshold, a.ComparisonOperator]),
        [
          ["KeysSkipped", [{ Name: "service", Value: "envelope" }], 0, "GreaterThanThreshold"],
          ["KeyDaysToExpiry", [{ Name: "service", Value: "envelope" }], 30, "LessThanThreshold"],
        ],
      );

      const api5xx = alarmOf(env, "api-5xx");
      assert.equal(api5xx.Namespace, "AWS/ApiGateway");
      assert.equal(api5xx.MetricName, "5XXError");
      assert.deepEqual(api5xx.Dimensions, [
        { Name: "ApiName", Value: `gsp-${env}-google-api` },
        { Name: "Stage", Value: "live" },
      ]);

      const latency = alarmOf(env, "capture-latency-p99");
      assert.equal(latency.Namespace, "AWS/ApiGateway");
      assert.equal(latency.MetricName, "Latency");
      assert.equal(latency.ExtendedStatistic, "p99");
      assert.ok((latency.Threshold as number) < 7000, "alarms before Google's 7 s");
      assert.deepEqual(
        Object.fromEntries(
          (latency.Dimensions as { Name: string; Value: unknown }[]).map((d) => [d.Name, d.Value]),
        ),
        { ApiName: `gsp-${env}-google-api`, Stage: "live", Method: "POST", Resource: "/v1/capture" },
      );
    });

    it(`${env}: one dashboard`, () => {
      template(env).resourceCountIs("AWS::CloudWatch::Dashboard", 1);
      template(env).hasResourceProperties("AWS::CloudWatch::Dashboard", {
        DashboardName: `gsp-${env}-integrator`,
      });
    });
  }

  it("prod alarms when Google's traffic stops (no data counts); an HTTPS endpoint is subscribed when configured", () => {
    const traffic = alarmOf("prod", "google-traffic-stopped");
    assert.equal(traffic.MetricName, "Count");
    assert.equal(traffic.ComparisonOperator, "LessThanThreshold");
    assert.equal(traffic.TreatMissingData, "breaching");
    const { app, cleanup } = newApp();
    try {
      const configs = {
        ...ENVIRONMENTS,
        dev: { ...ENVIRONMENTS.dev, alarmHttpsEndpoint: "https://events.pagerduty.example/sns" },
      };
      const [stack] = addEnvironments(app, "dev", configs);
      Template.fromStack(stack!).hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "https",
        Endpoint: "https://events.pagerduty.example/sns",
      });
    } finally {
      cleanup();
    }
  });
});

/** The GitHub anchors of DEPLOY.md's headings. */
function deployAnchors(): Set<string> {
  const text = readFileSync(join(REPO_ROOT, "infra/cdk/DEPLOY.md"), "utf8");
  return new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, "")
        .replace(/ /g, "-"),
    ),
  );
}

describe("cdk-nag", () => {
  it("AwsSolutions and Serverless find nothing unacknowledged in any of the three environments", () => {
    // app.synth() above would have thrown on a finding (nag.test.ts proves it does); ask the packs directly too.
    const app = synth.stacks.dev.node.root;
    for (const pack of [new AwsSolutionsChecks(), new ServerlessChecks()]) {
      const report = pack.validateScope(app);
      assert.deepEqual(
        report.violations.map(
          (v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
        ),
        [],
        pack.name,
      );
      assert.equal(report.success, true);
    }
    const paths = new Set(synth.stacks.dev.node.root.node.findAll().map((c) => c.node.path.split("/")[0]));
    for (const env of ENVIRONMENT_NAMES) assert.ok(paths.has(`Gsp-${env}`), `${env} was checked`);
  });
});

describe("canary releases", () => {
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: each Google-facing function and the notifier sits behind its live alias, on the version this deploy published`, () => {
      const stack = synth.stacks[env];
      assert.deepEqual(
        functionNames.filter((n) => stack.functions[n].alias),
        CANARIED_FUNCTIONS,
      );
      template(env).resourceCountIs("AWS::Lambda::Alias", CANARIED_FUNCTIONS.length);
      for (const name of CANARIED_FUNCTIONS) {
        const alias = resource(env, logicalId(stack.functions[name].alias!)) as unknown as {
          Properties: {
            Name: string;
            FunctionName: unknown;
            FunctionVersion: { "Fn::GetAtt": [string, string] };
          };
          UpdatePolicy: { CodeDeployLambdaAliasUpdate: { DeploymentGroupName: unknown } };
        };
        assert.equal(alias.Properties.Name, "live");
        assert.deepEqual(alias.Properties.FunctionName, { Ref: logicalId(stack.functions[name].function) });
        assert.equal(
          resource(env, alias.Properties.FunctionVersion["Fn::GetAtt"][0]).Type,
          "AWS::Lambda::Version",
        );
        // CloudFormation hands the alias to CodeDeploy instead of moving it at once.
        assert.deepEqual(alias.UpdatePolicy.CodeDeployLambdaAliasUpdate.DeploymentGroupName, {
          Ref: logicalId(stack.canaries.groups.get(name)!),
        });
      }
    });

    it(`${env}: one deployment group per canaried function: 10 % for 5 minutes, rolled back by that function's alarms`, () => {
      const stack = synth.stacks[env];
      const groups = template(env).findResources("AWS::CodeDeploy::DeploymentGroup");
      assert.equal(Object.keys(groups).length, CANARIED_FUNCTIONS.length);
      const alarmRef = (name: string) => ({ Ref: logicalId(stack.monitoring.alarms.get(name)!) });
      for (const name of CANARIED_FUNCTIONS) {
        const p = resource(env, logicalId(stack.canaries.groups.get(name)!)).Properties as Record<
          string,
          unknown
        >;
        assert.equal(p.DeploymentGroupName, `gsp-${env}-${name}`);
        assert.equal(p.DeploymentConfigName, "CodeDeployDefault.LambdaCanary10Percent5Minutes");
        assert.deepEqual(p.AutoRollbackConfiguration, {
          Enabled: true,
          Events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
        });
        const expected = [
          `${name}-errors`,
          `${name}-duration-p99`,
          ...(name === "notifier" ? ["google-verification-failed"] : ["api-5xx", "envelope-rejected-spike"]),
        ];
        const alarms = p.AlarmConfiguration as { Enabled: boolean; Alarms: { Name: unknown }[] };
        assert.equal(alarms.Enabled, true);
        assert.deepEqual(
          alarms.Alarms.map((a) => a.Name),
          expected.map(alarmRef),
          name,
        );
      }
    });

    it(`${env}: each canaried function's duration alarm watches its live alias, at half its timeout`, () => {
      for (const name of CANARIED_FUNCTIONS) {
        const stack = synth.stacks[env];
        const alarm = Object.values(
          template(env).findResources("AWS::CloudWatch::Alarm", {
            Properties: { AlarmName: `gsp-${env}-${name}-duration-p99` },
          }),
        )[0]!.Properties;
        assert.equal(alarm.MetricName, "Duration");
        assert.equal(alarm.ExtendedStatistic, "p99");
        assert.equal(alarm.Threshold, (functions[name].timeoutSeconds * 1000) / 2);
        assert.deepEqual(
          (alarm.Dimensions as { Name: string }[]).map((d) => d.Name).sort(),
          ["FunctionName", "Resource"],
          "the alias's own metric",
        );
        assert.match(
          JSON.stringify(alarm.Dimensions),
          new RegExp(`${logicalId(stack.functions[name].function)}.*:live`),
        );
      }
    });
  }
});
