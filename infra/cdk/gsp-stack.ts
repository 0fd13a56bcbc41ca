import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags, Validations } from "aws-cdk-lib";
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from "aws-cdk-lib/aws-dynamodb";
import { AccountPrincipal, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { type ISecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { type IQueue, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { RUNTIME_DEFAULTS } from "../../shared/config.ts";
import {
  type FunctionDefinition,
  type FunctionName,
  functions,
  type KeyAttribute,
  type QueueDefinition,
  queues,
  type RouteDefinition,
  routes,
  stagePrefix,
  type TableDefinition,
  tableName,
  tables,
} from "../resources.ts";
import { FUNCTION_ACCESS } from "./access.ts";
import { CanaryReleases } from "./constructs/canary.ts";
import { GspApi } from "./constructs/gsp-api.ts";
import { GspFunction } from "./constructs/gsp-function.ts";
import { GspKeys } from "./constructs/keys.ts";
import { Monitoring } from "./constructs/monitoring.ts";
import type { EnvironmentConfig } from "./environments.ts";

/** AWS's advice for SQS event sources: visibility timeout at least six times the function timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

export interface GspStackProps extends StackProps {
  stage: string;
  config: EnvironmentConfig;
  /** The pipeline's account, whose smoke step assumes this stage's smoke role (infra/cdk/pipeline.ts); none by hand. */
  smokeRunnerAccount?: string;
}

/**
 * A queue consumer must finish well within its queue's visibility timeout (AWS advises 6x), and
 * its call to Google within its own timeout; checked at synthesis.
 */
export function assertConsumerFits(
  name: string,
  definition: Pick<FunctionDefinition, "timeoutSeconds">,
  queue: Pick<QueueDefinition, "name" | "visibilityTimeoutSeconds">,
  callTimeoutMs: number,
) {
  if (queue.visibilityTimeoutSeconds < VISIBILITY_TO_TIMEOUT_RATIO * definition.timeoutSeconds) {
    throw new Error(
      `queue ${queue.name}: visibility timeout ${queue.visibilityTimeoutSeconds} s is under ${VISIBILITY_TO_TIMEOUT_RATIO} × the ${definition.timeoutSeconds} s timeout of ${name}, its consumer`,
    );
  }
  if (callTimeoutMs >= definition.timeoutSeconds * 1000) {
    throw new Error(
      `${name}: a ${callTimeoutMs} ms call to Google may outlast the function's ${definition.timeoutSeconds} s timeout`,
    );
  }
}

/** Builds one construct per entry of a definition object, keyed alike. */
function mapValues<K extends string, D, R>(definitions: Record<K, D>, build: (key: K, definition: D) => R) {
  return Object.fromEntries(
    (Object.entries(definitions) as [K, D][]).map(([key, definition]) => [key, build(key, definition)]),
  ) as Record<K, R>;
}

/** Released by canary: every function Google calls, and the notifier, which calls Google. */
export const CANARIED: ReadonlySet<FunctionName> = new Set(
  (Object.keys(functions) as FunctionName[]).filter(
    (name) => (functions[name] as FunctionDefinition).servesGoogle || name === "notifier",
  ),
);

const capitalized = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}`;

const attribute = (key: KeyAttribute) => ({
  name: key.name,
  type: key.type === "S" ? AttributeType.STRING : AttributeType.NUMBER,
});

/** One environment of the integrator: every table, queue, function and route of infra/resources.ts. */
export class GspStack extends Stack {
  readonly stage: string;
  readonly config: EnvironmentConfig;
  readonly prefix: string;
  readonly tables: Record<keyof typeof tables, ITable>;
  readonly queues: Record<keyof typeof queues, IQueue>;
  readonly deadLetterQueues: Partial<Record<keyof typeof queues, IQueue>> = {};
  readonly functions: Record<FunctionName, GspFunction>;
  readonly keys: GspKeys;
  /** Google's routes (public, behind WAF and the envelope), and the integrator's outcome route (IAM). */
  readonly googleApi: GspApi;
  readonly outcomeApi: GspApi;
  readonly monitoring: Monitoring;
  /** Each Google-facing function and the notifier: released by canary, rolled back by its alarms. */
  readonly canaries: CanaryReleases;

  constructor(scope: Construct, id: string, props: GspStackProps) {
    super(scope, id, props);
    const { stage, config } = props;
    this.stage = stage;
    this.config = config;
    if (config.messageCodec !== "openpgp") {
      throw new Error(`environment "${stage}": a deployed environment must use the OpenPGP codec`);
    }
    this.prefix = stagePrefix(stage);
    Tags.of(this).add("Project", "gsp-integrator");
    Tags.of(this).add("Stage", stage);
    const dataRemoval = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = config.logRetentionDays as RetentionDays;

    this.keys = new GspKeys(this, "Keys", { prefix: this.prefix, removalPolicy: dataRemoval });
    this.tables = mapValues(tables, (key, definition: TableDefinition) =>
      this.table(`${capitalized(key)}Table`, definition, config.retainData, this.keys.keys.tables),
    );
    this.queues = mapValues(queues, (key, definition: QueueDefinition) =>
      this.queue(capitalized(key), key, definition, this.keys.keys.queues),
    );
    new CfnOutput(this, "KeyringsKeyAlias", {
      value: `alias/${this.prefix}keyrings`,
      description: "Create the keyring secrets with --kms-key-id set to this key (infra/cdk/DEPLOY.md, Keys)",
    });

    const keys = {
      own: Secret.fromSecretNameV2(this, "IntegratorPrivateKeyring", config.secrets.ourKeys),
      google: Secret.fromSecretNameV2(this, "GooglePublicKeyring", config.secrets.googleKeys),
      otpPepper: Secret.fromSecretNameV2(this, "OtpPepper", config.secrets.otpPepper),
    } satisfies Record<string, ISecret>;

    // Settings an environment does not choose keep the defaults the local stack uses too.
    const runtime = {
      ...RUNTIME_DEFAULTS,
      stage,
      piaids: config.piaids,
      messageCodec: config.messageCodec,
      ledgerTimeZone: config.ledgerTimeZone,
      keyringTtlSeconds: config.keyringTtlSeconds,
      googleBaseUrl: config.googleBaseUrl,
      captureDeadlineSeconds: config.captureDeadlineSeconds,
      refundNotifications: config.refundNotifications,
      statementAcceptance: config.statementAcceptance,
      notify: { ...RUNTIME_DEFAULTS.notify },
    };
    const iamFunctions = new Set(
      routes.filter((r) => r.auth === "iam").map((r) => r.function as FunctionName),
    );
    const built = {} as Record<FunctionName, GspFunction>;
    for (const [name, definition] of Object.entries(functions) as [
      FunctionName,
      (typeof functions)[FunctionName],
    ][]) {
      const consumes = (definition as FunctionDefinition).consumes;
      if (consumes) assertConsumerFits(name, definition, queues[consumes.queue], runtime.notify.timeoutMs);
      built[name] = new GspFunction(this, capitalized(name), {
        name,
        definition,
        runtime,
        resources: {
          tables: this.tables,
          queues: this.queues,
          deadLetterQueues: this.deadLetterQueues,
          keys,
          kms: this.keys,
        },
        logRetention,
        logRemovalPolicy: dataRemoval,
        reservedConcurrency: (config.reservedConcurrency as Partial<Record<FunctionName, number>>)[name],
        access: FUNCTION_ACCESS[name],
        allowedCallers: iamFunctions.has(name) ? config.outcomeCallers : undefined,
        canary: CANARIED.has(name),
      });
    }
    this.functions = built;

    const apiProps = {
      functions: this.functions,
      throttle: { rateLimit: config.api.throttlingRateLimit, burstLimit: config.api.throttlingBurstLimit },
      logRetention,
      logRemovalPolicy: dataRemoval,
      logKey: this.keys.keys.logs,
    };
    const routesOf = (auth: RouteDefinition["auth"]) =>
      (routes as readonly RouteDefinition[]).filter((r) => r.auth === auth);
    this.googleApi = new GspApi(this, "GoogleApi", {
      ...apiProps,
      apiName: `${this.prefix}google-api`,
      description: `Google Standard Payments calls (${stage})`,
      routes: routesOf("envelope"),
      waf: { ...config.waf, allowedSourceCidrs: config.waf.googleSourceCidrs },
      customDomain: config.customDomain,
      cloudWatchRole: true,
    });
    this.outcomeApi = new GspApi(this, "OutcomeApi", {
      ...apiProps,
      apiName: `${this.prefix}outcome-api`,
      description: `The integrator's systems report asynchronous capture outcomes (${stage}); IAM only`,
      routes: routesOf("iam"),
      waf: { rateLimitPer5Minutes: config.waf.rateLimitPer5Minutes, maxBodyBytes: config.waf.maxBodyBytes },
      allowedCallers: config.outcomeCallers,
      cloudWatchRole: false,
    });
    // Its stage logs through the account's API Gateway CloudWatch role, which the Google API creates.
    this.outcomeApi.node.addDependency(this.googleApi.api);

    const captureRoute = routes.find((r) => r.function === "capture")!;
    this.monitoring = new Monitoring(this, "Monitoring", {
      prefix: this.prefix,
      alarmEmail: config.alarmEmail,
      alarmHttpsEndpoint: config.alarmHttpsEndpoint,
      functions: this.functions,
      tables: this.tables,
      googleApi: this.googleApi.api,
      outcomeApi: this.outcomeApi.api,
      captureRoute: { method: captureRoute.method, path: captureRoute.path },
      // Halfway to the function's own timeout, well before Google's 7 s.
      captureLatencyThresholdMs: (functions.capture.timeoutSeconds * 1000) / 2,
      notifications: {
        queue: this.queues.notifications,
        deadLetterQueue: this.deadLetterQueues.notifications!,
      },
      statements: { deadLetterQueue: this.deadLetterQueues.statements! },
      oldestNotificationThresholdSeconds: RUNTIME_DEFAULTS.notify.backoffCapSeconds,
      // A due record waits at most one sweep plus one retry delay when all is well.
      oldestDueRecordThresholdSeconds:
        RUNTIME_DEFAULTS.notify.backoffCapSeconds + 60 * functions.sweeper.schedule.everyMinutes,
      envelopeRejectedThreshold: 20,
      sweeperEveryMinutes: functions.sweeper.schedule.everyMinutes,
      alarmOnNoGoogleTraffic: config.alarmOnNoGoogleTraffic,
      keyRemovalPolicy: dataRemoval,
      canaried: [...CANARIED],
    });
    const alarm = (name: string) => this.monitoring.alarms.get(name)!;
    this.canaries = new CanaryReleases(this, "Canaries", {
      prefix: this.prefix,
      functions: [...CANARIED].map((name) => ({
        fn: this.functions[name],
        alarms: [
          alarm(`${name}-errors`),
          alarm(`${name}-duration-p99`),
          // Google's side of a bad release: 5xx, envelope refusals (Google-facing); Google refusing us (the notifier).
          ...(name === "notifier"
            ? [alarm("google-verification-failed")]
            : [alarm("api-5xx"), alarm("envelope-rejected-spike")]),
        ],
      })),
    });
    if (props.smokeRunnerAccount) this.smokeRole(props.smokeRunnerAccount, keys);
    this.acknowledgeCommonFindings();
  }

  /**
   * What `npm run smoke -- --env <stage>` needs in this account, for the pipeline account to assume:
   * find the queues (GetQueueUrl), read the smoke key and our public key (non-prod), or, for prod's
   * outbound echo to Google, the two keyrings, as `ops google echo` does.
   */
  private smokeRole(pipelineAccount: string, keys: { own: ISecret; google: ISecret }) {
    const role = new Role(this, "SmokeRole", {
      roleName: `${this.prefix}smoke`,
      assumedBy: new AccountPrincipal(pipelineAccount),
      description: `npm run smoke -- --env ${this.stage}, from the pipeline account`,
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["sqs:GetQueueUrl"],
        resources: [this.queues.notifications.queueArn, this.deadLetterQueues.notifications!.queueArn],
      }),
    );
    const smoke = this.config.smoke;
    const secrets = smoke
      ? [
          Secret.fromSecretNameV2(this, "SmokeKey", smoke.keySecret),
          Secret.fromSecretNameV2(this, "SmokeIntegratorPublicKey", smoke.integratorPublicKeySecret),
        ]
      : [keys.own, keys.google];
    for (const secret of secrets) secret.grantRead(role);
    this.keys.grant(role, "keyrings", ["kms:Decrypt"]);
  }

  private table(id: string, definition: TableDefinition, retain: boolean, key: IKey): Table {
    const table = new Table(this, id, {
      tableName: tableName(this.prefix, definition),
      partitionKey: attribute(definition.partitionKey),
      ...(definition.sortKey && { sortKey: attribute(definition.sortKey) }),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Customer-managed: who may decrypt is this stack's key policy and grants, and the key can be disabled.
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      deletionProtection: retain,
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of definition.indexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: attribute(index.partitionKey),
        ...(index.sortKey && { sortKey: attribute(index.sortKey) }),
        projectionType: ProjectionType[index.projection],
        ...(index.include && { nonKeyAttributes: [...index.include] }),
      });
    }
    return table;
  }

  private queue(id: string, key: keyof typeof queues, definition: QueueDefinition, kmsKey: IKey): Queue {
    const deadLetter = definition.deadLetter;
    const dlq = deadLetter
      ? new Queue(this, `${id}DeadLetterQueue`, {
          queueName: `${this.prefix}${deadLetter.name}`,
          retentionPeriod: Duration.seconds(deadLetter.retentionSeconds),
          encryption: QueueEncryption.KMS,
          encryptionMasterKey: kmsKey,
          enforceSSL: true,
        })
      : undefined;
    if (dlq) {
      this.deadLetterQueues[key] = dlq;
      const reason = "This is the dead-letter queue: its messages are inspected and replayed by an operator";
      Validations.of(dlq).acknowledge({ id: "AwsSolutions-SQS3", reason });
      Validations.of(dlq).acknowledge({ id: "Serverless-SQSRedrivePolicy", reason });
    }
    return new Queue(this, `${id}Queue`, {
      queueName: `${this.prefix}${definition.name}`,
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(definition.retentionSeconds),
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: kmsKey,
      enforceSSL: true,
      ...(dlq &&
        deadLetter && { deadLetterQueue: { queue: dlq, maxReceiveCount: deadLetter.maxReceiveCount } }),
    });
  }

  private acknowledgeCommonFindings() {
    // X-Ray's PutTraceSegments and PutTelemetryRecords take no resource-level permissions.
    for (const fn of Object.values(this.functions)) {
      const reason =
        "Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions";
      Validations.of(fn.role).acknowledge({ id: "AwsSolutions-IAM5[Resource::*]", reason });
    }
  }
}
