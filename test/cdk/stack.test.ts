/**
 * The synthesized templates of all three environments (real esbuild bundles, cdk-nag at synthesis),
 * checked against infra/resources.ts and infra/cdk/environments.ts.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import { ENVIRONMENT_NAMES, type EnvironmentName } from "../../infra/cdk/environments.ts";
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
import { asList, iamStatements, logicalId, REPO_ROOT, type Synthesized, synthesizeAll } from "./synth.ts";

let synth: Synthesized;
before(() => {
  synth = synthesizeAll();
});
after(() => synth?.cleanup());

const functionNames = Object.keys(functions) as FunctionName[];
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
const actionsOf = (statements: Record<string, unknown>[]) =>
  statements.flatMap((s) => asList(s.Action) as string[]);

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
        assert.deepEqual(config.tables, { ledger: `gsp-${env}-ledger`, captures: `gsp-${env}-captures` });
        assert.deepEqual(config.piaids, stack.config.piaids);
        assert.equal(config.googleBaseUrl, stack.config.googleBaseUrl);
        assert.equal(config.ledgerTimeZone, stack.config.ledgerTimeZone);
        assert.equal(config.captureDeadlineSeconds, stack.config.captureDeadlineSeconds);
        assert.deepEqual(config.keys, {
          source: "secretsmanager",
          ownSecretId: stack.config.secrets.ourKeys,
          googleSecretId: stack.config.secrets.googleKeys,
        });
        const usesQueue = (definition.sendsTo?.length ?? 0) > 0 || definition.consumes !== undefined;
        assert.equal(
          config.notificationsQueueUrl,
          usesQueue
            ? `https://sqs.${stack.region}.amazonaws.com/${stack.account}/gsp-${env}-notifications`
            : undefined,
          name,
        );
        assert.equal(vars.KEYS_DIR, undefined, name);
      }
    });

    it(`${env}: reserved concurrency is set exactly where the environment asks for it`, () => {
      const reserved = synth.stacks[env].config.reservedConcurrency ?? {};
      for (const name of functionNames) {
        assert.equal(fnResource(env, name).Properties.ReservedConcurrentExecutions, reserved[name], name);
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
      // The banner gives CommonJS dependencies (X-Ray's SDK under Powertools Tracer) a real require.
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
      const module = await import(pathToFileURL(bundle).href);
      assert.equal(typeof module.handler, "function", `${name}: ${bundle}`);
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
        assert.deepEqual(p.SSESpecification, { SSEEnabled: true });
        assert.deepEqual(
          p.GlobalSecondaryIndexes,
          definition.indexes?.map((index) => ({
            IndexName: index.name,
            KeySchema: keySchema(index as unknown as TableDefinition),
            Projection: { ProjectionType: index.projection },
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
      for (const p of [queue, dlq]) assert.equal(p.SqsManagedSseEnabled, true);
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
      assert.equal(Object.keys(tlsOnly).length, 2);
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
      template(env).resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
      template(env).hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        EventSourceArn: { "Fn::GetAtt": [logicalId(stack.queues.notifications), "Arn"] },
        FunctionName: { Ref: logicalId(stack.functions.notifier.function) },
        BatchSize: functions.notifier.consumes.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      });
      const consume = roleStatements(env, "notifier").find((s) =>
        asList(s.Action).includes("sqs:ReceiveMessage"),
      );
      assert.ok(consume, "the notifier may receive from its queue");
      assert.ok(asList(consume.Action).includes("sqs:ChangeMessageVisibility"));
      assert.deepEqual(consume.Resource, { "Fn::GetAtt": [logicalId(stack.queues.notifications), "Arn"] });
    });
  }
});

describe("HTTP API", () => {
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: the routes of infra/resources.ts, IAM on the internal route and none on Google's`, () => {
      const found = Object.values(template(env).findResources("AWS::ApiGatewayV2::Route"));
      assert.deepEqual(
        found.map((r) => r.Properties.RouteKey).sort(),
        routes.map((r) => `${r.method} ${r.path}`).sort(),
      );
      for (const route of routes) {
        const r = found.find((f) => f.Properties.RouteKey === `${route.method} ${route.path}`)!;
        assert.equal(r.Properties.AuthorizationType, route.auth === "iam" ? "AWS_IAM" : "NONE", route.path);
      }
      const internal = found.find((r) => r.Properties.RouteKey === "POST /internal/v1/captureOutcome");
      assert.equal(internal?.Properties.AuthorizationType, "AWS_IAM");
      for (const path of ["/v1/capture", "/v1/asynchronousCapture"]) {
        assert.equal(
          found.find((r) => r.Properties.RouteKey === `POST ${path}`)?.Properties.AuthorizationType,
          "NONE",
        );
      }
    });

    it(`${env}: each route invokes its own function`, () => {
      const stack = synth.stacks[env];
      for (const route of routes) {
        template(env).hasResourceProperties("AWS::ApiGatewayV2::Integration", {
          IntegrationType: "AWS_PROXY",
          PayloadFormatVersion: "2.0",
          IntegrationUri: { "Fn::GetAtt": [logicalId(stack.functions[route.function].function), "Arn"] },
        });
      }
    });

    it(`${env}: default stage throttled from config, access-logged to a log group with retention`, () => {
      const stack = synth.stacks[env];
      const stage = resource(env, logicalId(stack.api.stage)).Properties;
      assert.equal(stage.StageName, "$default");
      assert.deepEqual(stage.DefaultRouteSettings, {
        DetailedMetricsEnabled: true,
        ThrottlingRateLimit: stack.config.api.throttlingRateLimit,
        ThrottlingBurstLimit: stack.config.api.throttlingBurstLimit,
      });
      const logs = logicalId(stack.api.accessLogs);
      assert.deepEqual((stage.AccessLogSettings as { DestinationArn: unknown }).DestinationArn, {
        "Fn::GetAtt": [logs, "Arn"],
      });
      assert.equal(resource(env, logs).Properties.RetentionInDays, stack.config.logRetentionDays);
    });
  }

  it("a custom domain only where configured (prod), which is then the only way in", () => {
    template("prod").hasResourceProperties("AWS::ApiGatewayV2::DomainName", {
      DomainName: synth.stacks.prod.config.customDomain!.domainName,
      DomainNameConfigurations: [
        Match.objectLike({ CertificateArn: synth.stacks.prod.config.customDomain!.certificateArn }),
      ],
    });
    template("prod").resourceCountIs("AWS::ApiGatewayV2::ApiMapping", 1);
    template("prod").hasResourceProperties("AWS::ApiGatewayV2::Api", { DisableExecuteApiEndpoint: true });
    for (const env of ["dev", "sandbox"] as const) {
      template(env).resourceCountIs("AWS::ApiGatewayV2::DomainName", 0);
      template(env).hasResourceProperties("AWS::ApiGatewayV2::Api", { DisableExecuteApiEndpoint: false });
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
        const definition = functions[name] as { servesGoogle?: boolean; callsGoogle?: boolean };
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
            [secretArn(stack.config.secrets.googleKeys), secretArn(stack.config.secrets.ourKeys)].sort(),
          );
        } else {
          assert.deepEqual(statements, [], `${name} must not read the keyrings`);
        }
      }
    });

    it(`${env}: only the functions that enqueue may send to the notifications queue`, () => {
      for (const name of functionNames) {
        const sends = actionsOf(roleStatements(env, name)).includes("sqs:SendMessage");
        const definition = functions[name] as { sendsTo?: readonly string[] };
        assert.equal(sends, (definition.sendsTo?.length ?? 0) > 0, name);
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
  const expectedAlarms = [
    "notifications-dlq-not-empty",
    "notifications-oldest-message-age",
    "notifier-errors",
    "google-verification-failed",
    "api-5xx",
    "capture-latency-p99",
    "sweeper-errors",
    "keys-skipped",
    "key-expires-within-30-days",
  ];
  for (const env of ENVIRONMENT_NAMES) {
    it(`${env}: every alarm exists and notifies the encrypted alarm topic`, () => {
      const stack = synth.stacks[env];
      const topic = logicalId(stack.monitoring.topic);
      const alarms = Object.values(template(env).findResources("AWS::CloudWatch::Alarm"));
      assert.deepEqual(
        alarms.map((a) => a.Properties.AlarmName).sort(),
        expectedAlarms.map((n) => `gsp-${env}-${n}`).sort(),
      );
      for (const alarm of alarms) {
        assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topic }], alarm.Properties.AlarmName);
      }
      const topicProps = resource(env, topic).Properties;
      assert.ok(topicProps.KmsMasterKeyId, "the alarm topic is encrypted");
      template(env).hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: stack.config.alarmEmail,
        TopicArn: { Ref: topic },
      });
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

    it(`${env}: the alarms watch the right metrics`, () => {
      const stack = synth.stacks[env];
      const alarm = (name: string) =>
        Object.values(
          template(env).findResources("AWS::CloudWatch::Alarm", {
            Properties: { AlarmName: `gsp-${env}-${name}` },
          }),
        )[0]!.Properties;
      const dlq = alarm("notifications-dlq-not-empty");
      assert.equal(dlq.MetricName, "ApproximateNumberOfMessagesVisible");
      assert.deepEqual(dlq.Dimensions, [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [logicalId(stack.deadLetterQueues.notifications!), "QueueName"] },
        },
      ]);
      assert.equal(dlq.Threshold, 0);
      assert.equal(dlq.ComparisonOperator, "GreaterThanThreshold");

      const age = alarm("notifications-oldest-message-age");
      assert.equal(age.MetricName, "ApproximateAgeOfOldestMessage");
      assert.deepEqual(age.Dimensions, [
        { Name: "QueueName", Value: { "Fn::GetAtt": [logicalId(stack.queues.notifications), "QueueName"] } },
      ]);

      const notifierErrors = alarm("notifier-errors");
      assert.equal(notifierErrors.Namespace, "AWS/Lambda");
      assert.equal(notifierErrors.MetricName, "Errors");
      assert.deepEqual(notifierErrors.Dimensions, [
        { Name: "FunctionName", Value: { Ref: logicalId(stack.functions.notifier.function) } },
      ]);

      const verification = alarm("google-verification-failed");
      assert.equal(verification.Namespace, "GspIntegrator");
      assert.equal(verification.MetricName, "GoogleVerificationFailed");
      assert.deepEqual(verification.Dimensions, [{ Name: "service", Value: "notifier" }]);
      assert.equal(verification.Threshold, 0);
      assert.equal(verification.ComparisonOperator, "GreaterThanThreshold");

      const skipped = alarm("keys-skipped");
      const expiry = alarm("key-expires-within-30-days");
      assert.deepEqual(
        [skipped, expiry].map((a) => [a.MetricName, a.Dimensions, a.Threshold, a.ComparisonOperator]),
        [
          ["KeysSkipped", [{ Name: "service", Value: "envelope" }], 0, "GreaterThanThreshold"],
          ["KeyDaysToExpiry", [{ Name: "service", Value: "envelope" }], 30, "LessThanThreshold"],
        ],
      );

      const api5xx = alarm("api-5xx");
      assert.equal(api5xx.Namespace, "AWS/ApiGateway");
      assert.equal(api5xx.MetricName, "5xx");

      const latency = alarm("capture-latency-p99");
      assert.equal(latency.Namespace, "AWS/ApiGateway");
      assert.equal(latency.MetricName, "Latency");
      assert.equal(latency.ExtendedStatistic, "p99");
      assert.ok((latency.Threshold as number) < 7000, "alarms before Google's 7 s");
      assert.deepEqual(
        Object.fromEntries(
          (latency.Dimensions as { Name: string; Value: unknown }[]).map((d) => [d.Name, d.Value]),
        ),
        {
          ApiId: { Ref: logicalId(stack.api.api) },
          Stage: "$default",
          Method: "POST",
          Resource: "/v1/capture",
        },
      );
    });

    it(`${env}: one dashboard`, () => {
      template(env).resourceCountIs("AWS::CloudWatch::Dashboard", 1);
      template(env).hasResourceProperties("AWS::CloudWatch::Dashboard", {
        DashboardName: `gsp-${env}-integrator`,
      });
    });
  }
});

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
