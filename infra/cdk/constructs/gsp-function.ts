import { createRequire } from "node:module";
import { join } from "node:path";
import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Alias, Architecture, type IFunction, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat, SourceMapMode } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { type RuntimeConfig, runtimeEnv } from "../../../shared/config.ts";
import { OUTCOME_CALLERS_ENV } from "../../../shared/http/caller.ts";
import { METRICS } from "../../../shared/metrics.ts";
import { EXTERNAL_MODULES, shipOpenpgpLazyModulesCommand } from "../../bundling.ts";
import type { FunctionDefinition, FunctionName, queues, tables } from "../../resources.ts";
import { type FunctionAccess, NEVER_GRANTED } from "../access.ts";
import type { GspKeys } from "./keys.ts";

export const REPO_ROOT = join(import.meta.dirname, "../../..");
export const METRICS_NAMESPACE = METRICS.namespace;

/** The bundle's ESM output may pull in a CommonJS dependency that calls require(). */
const REQUIRE_BANNER =
  "import { createRequire as __gspCreateRequire } from 'node:module'; const require = __gspCreateRequire(import.meta.url);";

/** NodejsFunction falls back to Docker when esbuild is missing; this project never bundles in Docker. */
function assertLocalEsbuild() {
  try {
    createRequire(join(REPO_ROOT, "package.json")).resolve("esbuild");
  } catch {
    throw new Error(
      "esbuild is not installed (npm ci): NodejsFunction would fall back to Docker bundling, which this project does not use",
    );
  }
}

/** What a function may be wired to; its definition in infra/resources.ts says which it uses. */
export interface GspResources {
  tables: Record<keyof typeof tables, ITable>;
  queues: Record<keyof typeof queues, IQueue>;
  deadLetterQueues: Partial<Record<keyof typeof queues, IQueue>>;
  keys: { own: ISecret; google: ISecret; otpPepper: ISecret };
  kms: GspKeys;
}

export interface GspFunctionProps {
  name: FunctionName;
  definition: FunctionDefinition;
  /** The settings every function shares; tables, keys and queue URL are filled in from `resources`. */
  runtime: Omit<RuntimeConfig, "tables" | "keys" | "notificationsQueueUrl">;
  resources: GspResources;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  reservedConcurrency?: number | undefined;
  /** The DynamoDB actions it may take, per table (infra/cdk/access.ts). */
  access: FunctionAccess;
  /** Roles allowed to call it, for a function behind an IAM route (it checks them itself too). */
  allowedCallers?: readonly string[] | undefined;
  /** Served through the `live` alias, which CodeDeploy shifts to each new version (canary releases). */
  canary?: boolean;
}

/** The alias API Gateway and the event source invoke for a canaried function. */
export const LIVE_ALIAS = "live";

/**
 * One Lambda function of infra/resources.ts with the project's defaults baked in (Node 24 on
 * arm64, minified ESM with source maps, X-Ray, its own log group), wired as its definition says:
 * each `bind…` step grants the IAM rights and supplies the setting the function reads, together.
 */
export class GspFunction extends Construct {
  readonly name: FunctionName;
  readonly definition: FunctionDefinition;
  /** Opens, seals or signs envelopes: reads the keyrings and bundles openpgp. */
  readonly holdsKeys: boolean;
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;
  /** The `live` alias of a canaried function (CodeDeploy moves it), else undefined. */
  readonly alias: Alias | undefined;
  /** What its callers invoke: the alias when canaried, never $LATEST then. */
  readonly invoked: IFunction;

  constructor(scope: Construct, id: string, props: GspFunctionProps) {
    super(scope, id);
    assertLocalEsbuild();
    const { name, definition, resources } = props;
    this.name = name;
    this.definition = definition;
    this.holdsKeys = Boolean(definition.servesGoogle || definition.callsGoogle);

    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
      encryptionKey: resources.kms.keys.logs,
    });
    // Its own role, so the only log rights it holds are on its own log group (no managed policy).
    this.role = new Role(this, "Role", { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    this.logGroup.grantWrite(this.role);

    const config: RuntimeConfig = {
      ...props.runtime,
      tables: {
        ledger: resources.tables.ledger.tableName,
        captures: resources.tables.captures.tableName,
        refunds: resources.tables.refunds.tableName,
        statements: resources.tables.statements.tableName,
      },
      ...this.bindKeys(resources, props.runtime),
      ...this.bindQueue(resources),
    };
    const environment = runtimeEnv(config);
    if (environment.MESSAGE_CODEC !== "openpgp") {
      throw new Error(`function ${name}: a deployed function must use the OpenPGP codec, not plain JSON`);
    }

    this.function = new NodejsFunction(this, "Function", {
      entry: join(REPO_ROOT, definition.entry),
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, "package-lock.json"),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: definition.memoryMb,
      timeout: Duration.seconds(definition.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      ...(props.reservedConcurrency !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrency,
      }),
      environment: {
        ...environment,
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: name,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...(props.allowedCallers && { [OUTCOME_CALLERS_ENV]: props.allowedCallers.join(",") }),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        externalModules: EXTERNAL_MODULES,
        banner: REQUIRE_BANNER,
        // openpgp's rarely used algorithms ship beside the bundle of a function that holds keys (infra/bundling.ts).
        ...(this.holdsKeys && {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_inputDir: string, outputDir: string) => [
              shipOpenpgpLazyModulesCommand(outputDir),
            ],
          },
        }),
      },
    });
    this.alias = props.canary
      ? new Alias(this, "Live", { aliasName: LIVE_ALIAS, version: this.function.currentVersion })
      : undefined;
    this.invoked = this.alias ?? this.function;
    this.bindTables(resources, props.access);
    this.bindConsumer(resources.queues);
    this.bindSchedule();
  }

  /**
   * runtimeConfigFrom requires a keys location whenever the codec is openpgp, so every function
   * carries the secret ids; only the ones that open, seal or sign envelopes may read the secrets
   * (and decrypt them with the keyrings key, through Secrets Manager only).
   */
  private bindKeys(resources: GspResources, runtime: GspFunctionProps["runtime"]) {
    if (runtime.messageCodec !== "openpgp") return {};
    const { keys } = resources;
    if (this.holdsKeys) {
      keys.own.grantRead(this.role);
      keys.google.grantRead(this.role);
      resources.kms.grant(this.role, "keyrings", ["kms:Decrypt"]);
    }
    // The OTP pepper is secret material like the keyrings: same KMS key, read only where OTPs are checked.
    if (this.definition.checksOtps) {
      keys.otpPepper.grantRead(this.role);
      resources.kms.grant(this.role, "keyrings", ["kms:Decrypt"]);
    }
    return {
      keys: {
        source: "secretsmanager" as const,
        ownSecretId: keys.own.secretName,
        googleSecretId: keys.google.secretName,
      },
      ...(this.definition.checksOtps && {
        otpPepper: { source: "secretsmanager" as const, secretId: keys.otpPepper.secretName },
      }),
    };
  }

  /** Exactly the actions of infra/cdk/access.ts on each table (and index), and the tables key to match. */
  private bindTables(resources: GspResources, access: FunctionAccess) {
    const granted = Object.keys(access).sort();
    const defined = [...this.definition.tables].sort();
    if (granted.join() !== defined.join()) {
      throw new Error(
        `${this.name}: infra/cdk/access.ts grants tables [${granted}] but infra/resources.ts gives it [${defined}]`,
      );
    }
    let writes = false;
    for (const [name, tableAccess] of Object.entries(access) as [
      keyof typeof tables,
      FunctionAccess[keyof typeof tables],
    ][]) {
      if (!tableAccess) continue;
      const forbidden = tableAccess.actions.filter((a) => (NEVER_GRANTED as readonly string[]).includes(a));
      if (forbidden.length > 0) throw new Error(`${this.name}: ${forbidden} on ${name} is never granted`);
      const table = resources.tables[name];
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: tableAccess.actions.map((a) => `dynamodb:${a}`),
          resources: [table.tableArn],
        }),
      );
      for (const index of tableAccess.queries ?? []) {
        this.role.addToPrincipalPolicy(
          new PolicyStatement({
            actions: ["dynamodb:Query"],
            resources: [`${table.tableArn}/index/${index}`],
          }),
        );
      }
      writes ||= tableAccess.actions.some((a) => a === "PutItem" || a === "UpdateItem");
    }
    if (granted.length > 0) {
      resources.kms.grant(
        this.role,
        "tables",
        writes
          ? ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
          : ["kms:Decrypt", "kms:DescribeKey"],
      );
    }
  }

  /** NOTIFICATIONS_QUEUE_URL, for sending to the queue or (the notifier) delaying a retry on it. */
  private bindQueue(resources: GspResources) {
    const all = resources.queues;
    const sendsTo = this.definition.sendsTo ?? [];
    if (sendsTo.length > 0) resources.kms.grant(this.role, "queues", ["kms:GenerateDataKey", "kms:Decrypt"]);
    for (const queue of sendsTo) {
      // Not grantSendMessages: it adds kms:GenerateDataKey* and kms:ReEncrypt*, more than sending needs.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [all[queue].queueArn] }),
      );
    }
    // Each queue reaches the function as its own setting (the notifier also delays retries on its queue).
    const urls: {
      notificationsQueueUrl?: string;
      statementsQueueUrl?: string;
      notificationsDlqUrl?: string;
    } = {};
    for (const queue of new Set([
      ...sendsTo,
      ...(this.definition.consumes ? [this.definition.consumes.queue] : []),
    ])) {
      urls[queue === "statements" ? "statementsQueueUrl" : "notificationsQueueUrl"] = all[queue].queueUrl;
    }
    // The notifier sends a message to its DLQ itself after its last try (it counts tries, not receives).
    const dlq =
      this.definition.consumes?.queue === "notifications"
        ? resources.deadLetterQueues.notifications
        : undefined;
    if (dlq) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [dlq.queueArn] }),
      );
      resources.kms.grant(this.role, "queues", ["kms:GenerateDataKey", "kms:Decrypt"]);
      urls.notificationsDlqUrl = dlq.queueUrl;
    }
    return urls;
  }

  private bindConsumer(all: GspResources["queues"]) {
    const consumes = this.definition.consumes;
    if (!consumes) return;
    // grantConsumeMessages (done by the event source) includes sqs:ChangeMessageVisibility, which the retry delay needs.
    this.invoked.addEventSource(
      new SqsEventSource(all[consumes.queue], {
        batchSize: consumes.batchSize,
        maxConcurrency: consumes.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    Validations.of(this.function).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Invoked by an SQS event source mapping, never asynchronously: a failed message goes back to its queue and, after maxReceiveCount tries, to the queue's DLQ",
    });
    // On the mapping's parent: the function, or its live alias when canaried.
    Validations.of(this.invoked).acknowledge({
      id: "Serverless-LambdaEventSourceMappingDestination",
      reason:
        "SQS event source mappings take no on-failure destination; the queue's redrive policy moves a message to the DLQ after maxReceiveCount tries",
    });
  }

  private bindSchedule() {
    const schedule = this.definition.schedule;
    if (!schedule) return;
    const period = Duration.minutes(schedule.everyMinutes);
    const rule = new Rule(this, "Schedule", {
      schedule: Schedule.rate(period),
      targets: [new LambdaFunction(this.function, { retryAttempts: 0 })],
    });
    // A run that failed or could not start is dropped, not retried: the next run does the same work.
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: period });
    const reason = `The schedule starts a new run every ${schedule.everyMinutes} minute(s) and each run redoes what the previous one left (the sparse sweep index still lists it); a failed run is dropped rather than parked in a queue, and the sweeper-errors alarm reports it`;
    Validations.of(rule).acknowledge({ id: "Serverless-EventBusDLQ", reason });
    Validations.of(this.function).acknowledge({ id: "Serverless-LambdaAsyncFailureDestination", reason });
    Validations.of(this.function).acknowledge({ id: "Serverless-LambdaDLQ", reason });
  }
}
