import { createRequire } from "node:module";
import { join } from "node:path";
import { Duration, type RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type { CfnTable, ITable } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat, SourceMapMode } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { type RuntimeConfig, runtimeEnv } from "../../../shared/config.ts";
import { METRICS } from "../../../shared/metrics.ts";
import {
  type FunctionDefinition,
  type FunctionName,
  type queues,
  type TableDefinition,
  tables,
} from "../../resources.ts";

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
  keys: { own: ISecret; google: ISecret };
}

export interface GspFunctionProps {
  name: FunctionName;
  definition: FunctionDefinition;
  /** The settings every function shares; tables, keys and queue URL are filled in from `resources`. */
  runtime: Omit<RuntimeConfig, "tables" | "keys" | "notificationsQueueUrl">;
  resources: GspResources;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  reservedConcurrency?: number;
}

/**
 * One Lambda function of infra/resources.ts with the project's defaults baked in (Node 24 on
 * arm64, minified ESM with source maps, X-Ray, its own log group), wired as its definition says:
 * each `bind…` step grants the IAM rights and supplies the setting the function reads, together.
 */
export class GspFunction extends Construct {
  readonly name: FunctionName;
  readonly definition: FunctionDefinition;
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: GspFunctionProps) {
    super(scope, id);
    assertLocalEsbuild();
    const { name, definition, resources } = props;
    this.name = name;
    this.definition = definition;

    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
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
      },
      ...this.bindKeys(resources.keys, props.runtime),
      ...this.bindQueue(resources.queues),
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
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        externalModules: ["@aws-sdk/*"],
        banner: REQUIRE_BANNER,
      },
    });
    this.bindTables(resources.tables);
    this.bindConsumer(resources.queues);
    this.bindSchedule();
  }

  /**
   * runtimeConfigFrom requires a keys location whenever the codec is openpgp, so every function
   * carries the secret ids; only the ones that open, seal or sign envelopes may read the secrets.
   */
  private bindKeys(keys: GspResources["keys"], runtime: GspFunctionProps["runtime"]) {
    if (runtime.messageCodec !== "openpgp") return {};
    if (this.definition.servesGoogle || this.definition.callsGoogle) {
      keys.own.grantRead(this.role);
      keys.google.grantRead(this.role);
    }
    return {
      keys: {
        source: "secretsmanager" as const,
        ownSecretId: keys.own.secretName,
        googleSecretId: keys.google.secretName,
      },
    };
  }

  private bindTables(all: GspResources["tables"]) {
    for (const name of this.definition.tables) {
      const table = all[name];
      table.grantReadWriteData(this.role);
      const indexes = (tables[name] as TableDefinition).indexes ?? [];
      if (indexes.length > 0) {
        const cfn = table.node.defaultChild as CfnTable;
        const logicalId = Stack.of(this).resolve(cfn.logicalId) as string;
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
          reason: `The grant covers the ${name} table's own indexes (${indexes.map((i) => i.name).join(", ")}), which the capture store queries; index/* names nothing outside this table`,
        });
      }
    }
  }

  /** NOTIFICATIONS_QUEUE_URL, for sending to the queue or (the notifier) delaying a retry on it. */
  private bindQueue(all: GspResources["queues"]) {
    const sendsTo = this.definition.sendsTo ?? [];
    for (const queue of sendsTo) all[queue].grantSendMessages(this.role);
    const queueName = sendsTo[0] ?? this.definition.consumes?.queue;
    return queueName ? { notificationsQueueUrl: all[queueName].queueUrl } : {};
  }

  private bindConsumer(all: GspResources["queues"]) {
    const consumes = this.definition.consumes;
    if (!consumes) return;
    // grantConsumeMessages (done by the event source) includes sqs:ChangeMessageVisibility, which the retry delay needs.
    this.function.addEventSource(
      new SqsEventSource(all[consumes.queue], {
        batchSize: consumes.batchSize,
        reportBatchItemFailures: true,
      }),
    );
    Validations.of(this.function).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Invoked by an SQS event source mapping, never asynchronously: a failed message goes back to its queue and, after maxReceiveCount tries, to the queue's DLQ",
    });
    Validations.of(this.function).acknowledge({
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
