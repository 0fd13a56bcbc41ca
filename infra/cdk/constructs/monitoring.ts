import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import type { RestApi } from "aws-cdk-lib/aws-apigateway";
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  Stats,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { type ITable, Operation } from "aws-cdk-lib/aws-dynamodb";
import { ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { SubscriptionProtocol, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription, UrlSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS } from "../../../shared/metrics.ts";
import type { FunctionName, tables } from "../../resources.ts";
import { STAGE_NAME } from "./gsp-api.ts";
import type { GspFunction } from "./gsp-function.ts";
import { METRICS_NAMESPACE } from "./gsp-function.ts";

/** The sections of infra/cdk/DEPLOY.md an alarm points to (their GitHub anchors); test/cdk checks each exists. */
export const RUNBOOKS = {
  dlq: "dlq-not-empty",
  notificationsStuck: "notifications-stuck",
  googleVerification: "google-cannot-verify-us",
  functionErrors: "function-errors",
  functionThrottles: "function-throttles",
  dynamodb: "dynamodb-throttles-or-system-errors",
  envelopeRejected: "envelope-refusals-spike",
  sweeperNotRunning: "sweeper-not-running",
  googleTrafficStopped: "google-traffic-stopped",
  api5xx: "api-5xx",
  captureLatency: "capture-latency",
  keys: "keys-skipped-or-near-expiry",
  statementsNotReconciled: "statements-not-reconciled",
  canaryRolledBack: "canary-rolled-back",
} as const;
export type Runbook = (typeof RUNBOOKS)[keyof typeof RUNBOOKS];

/** Where an alarm's description says its runbook is. */
export const runbookLink = (runbook: Runbook) => `Runbook: infra/cdk/DEPLOY.md#${runbook}`;

/** DynamoDB operations the functions send (infra/cdk/access.ts); throttles and system errors are watched on each. */
const TABLE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.BATCH_GET_ITEM,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.QUERY,
  Operation.TRANSACT_WRITE_ITEMS,
];

export interface MonitoringProps {
  /** Prefix of alarm and dashboard names, e.g. gsp-prod-. */
  prefix: string;
  alarmEmail: string;
  /** An HTTPS endpoint (PagerDuty, Opsgenie) that also receives every alarm. */
  alarmHttpsEndpoint?: string | undefined;
  functions: Record<FunctionName, GspFunction>;
  tables: Record<keyof typeof tables, ITable>;
  /** The Google-facing API, and the integrator's outcome API. */
  googleApi: RestApi;
  outcomeApi: RestApi;
  /** The route whose p99 latency is alarmed on (Google gives up after 7 s). */
  captureRoute: { method: string; path: string };
  captureLatencyThresholdMs: number;
  notifications: { queue: IQueue; deadLetterQueue: IQueue };
  /** Remittance statements to reconcile: their DLQ holds statements whose details never came right. */
  statements?: { deadLetterQueue: IQueue };
  /** Age at which the oldest queued notification means deliveries are stuck, not merely retrying. */
  oldestNotificationThresholdSeconds: number;
  /** Age of the oldest record the sweeper still has to act on at which something is wrong. */
  oldestDueRecordThresholdSeconds: number;
  /** Envelope refusals (401/400) in 5 minutes that mean a key mismatch rather than noise. */
  envelopeRejectedThreshold: number;
  sweeperEveryMinutes: number;
  /** Alarm when Google's traffic stops (production). */
  alarmOnNoGoogleTraffic: boolean;
  keyRemovalPolicy: RemovalPolicy;
  /** Functions released by canary (behind their `live` alias): each gets a p99 latency alarm on that alias. */
  canaried?: readonly FunctionName[];
}

interface AlarmOptions {
  runbook: Runbook;
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  comparison?: ComparisonOperator;
  /** Default NOT_BREACHING: no data means nothing happened. */
  missingData?: TreatMissingData;
}

/** Alarms to one encrypted SNS topic (e-mail, and an HTTPS endpoint if configured), and one dashboard. */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms = new Map<string, Alarm>();
  /** Alarm name (without prefix) → the DEPLOY.md section it names. */
  readonly runbooks = new Map<string, Runbook>();
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { prefix, functions, notifications } = props;

    // Customer-managed: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    const key = new Key(this, "TopicKey", {
      description: `${prefix}alarms topic encryption`,
      enableKeyRotation: true,
      removalPolicy: props.keyRemovalPolicy,
    });
    key.grant(new ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey");
    this.topic = new Topic(this, "AlarmTopic", {
      topicName: `${prefix}alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    const email = this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    Validations.of(email).acknowledge({
      id: "Serverless-SNSRedrivePolicy",
      reason:
        "An e-mail subscription for alarms: SNS retries e-mail delivery itself, and an alarm's state stays on the dashboard; a dead-letter queue for undelivered alarm e-mails would be one more queue nobody reads",
    });
    if (props.alarmHttpsEndpoint) {
      const pager = this.topic.addSubscription(
        new UrlSubscription(props.alarmHttpsEndpoint, { protocol: SubscriptionProtocol.HTTPS }),
      );
      Validations.of(pager).acknowledge({
        id: "Serverless-SNSRedrivePolicy",
        reason:
          "The paging endpoint is a second channel beside e-mail: SNS retries HTTPS delivery with its own backoff, and an alarm nobody was paged for is still e-mailed and on the dashboard",
      });
    }
    const action = new SnsAction(this.topic);

    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      options: AlarmOptions,
    ) => {
      const created = new Alarm(this, name, {
        alarmName: `${prefix}${name}`,
        alarmDescription: `${description} ${runbookLink(options.runbook)}`,
        metric,
        threshold,
        comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        datapointsToAlarm: options.datapointsToAlarm ?? options.evaluationPeriods ?? 1,
        treatMissingData: options.missingData ?? TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.set(name, created);
      this.runbooks.set(name, options.runbook);
      return created;
    };

    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const custom = (metricName: string, service: string, statistic: string, period = fiveMinutes) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service },
        period,
        statistic,
      });

    alarm(
      "notifications-dlq-not-empty",
      "A captureResultNotification gave up after maxReceiveCount tries.",
      notifications.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: oneMinute,
        statistic: Stats.MAXIMUM,
      }),
      0,
      { runbook: RUNBOOKS.dlq },
    );
    // SQS leaves out of this age a message received three or more times: it misses the ones stuck in retries.
    alarm(
      "notifications-oldest-message-age",
      "The oldest queued notification has waited longer than the longest retry delay: deliveries to Google are failing repeatedly.",
      notifications.queue.metricApproximateAgeOfOldestMessage({
        period: oneMinute,
        statistic: Stats.MAXIMUM,
      }),
      props.oldestNotificationThresholdSeconds,
      { runbook: RUNBOOKS.notificationsStuck, evaluationPeriods: 5 },
    );
    alarm(
      "oldest-due-record-age",
      "The oldest capture record the sweeper must act on (an expiry, an owed notification) is older than it should ever get: records, not the queue, say a notification is stuck.",
      custom(METRICS.oldestDueRecordAgeSeconds, METRICS.sweeperService, Stats.MAXIMUM, oneMinute),
      props.oldestDueRecordThresholdSeconds,
      { runbook: RUNBOOKS.notificationsStuck, evaluationPeriods: 5 },
    );
    alarm(
      "google-verification-failed",
      "Google answered a notification with an empty 404: it could not verify us (signing key, encryption key or PIAID). Retrying will not fix it.",
      custom(METRICS.googleVerificationFailed, METRICS.notifierService, Stats.SUM),
      0,
      { runbook: RUNBOOKS.googleVerification },
    );
    alarm(
      "statements-not-reconciled",
      "A remittance statement did not reconcile exactly, or Google's details of it were refused: it is not accepted until an operator looks.",
      custom(METRICS.statementNotReconciled, METRICS.reconcilerService, Stats.SUM),
      0,
      { runbook: RUNBOOKS.statementsNotReconciled },
    );
    if (props.statements) {
      alarm(
        "statements-dlq-not-empty",
        "A remittance statement's reconciliation gave up after maxReceiveCount tries (details refused or Google unreachable).",
        props.statements.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: oneMinute,
          statistic: Stats.MAXIMUM,
        }),
        0,
        { runbook: RUNBOOKS.statementsNotReconciled },
      );
    }
    alarm(
      "envelope-rejected-spike",
      `More than ${props.envelopeRejectedThreshold} requests in 5 minutes failed the envelope (401 signature, 400 encryption): Google's keys and ours no longer match.`,
      custom(METRICS.envelopeRejected, METRICS.envelopeService, Stats.SUM),
      props.envelopeRejectedThreshold,
      { runbook: RUNBOOKS.envelopeRejected },
    );

    for (const fn of Object.values(functions)) {
      alarm(
        `${fn.name}-errors`,
        `The ${fn.name} function failed whole invocations (an unhandled error or a timeout).`,
        fn.function.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
        0,
        { runbook: RUNBOOKS.functionErrors },
      );
      alarm(
        `${fn.name}-throttles`,
        `Invocations of ${fn.name} were throttled: its reserved concurrency (or the account's) is exhausted.`,
        fn.function.metricThrottles({ period: fiveMinutes, statistic: Stats.SUM }),
        0,
        { runbook: RUNBOOKS.functionThrottles },
      );
    }
    for (const name of props.canaried ?? []) {
      const fn = functions[name];
      const thresholdMs = (fn.definition.timeoutSeconds * 1000) / 2;
      alarm(
        `${name}-duration-p99`,
        `p99 duration of ${name} through its live alias is over ${thresholdMs} ms (half its timeout) in 2 of 3 minutes; during a canary release it rolls the new version back.`,
        fn.invoked.metricDuration({ period: oneMinute, statistic: Stats.p(99) }),
        thresholdMs,
        { runbook: RUNBOOKS.canaryRolledBack, evaluationPeriods: 3, datapointsToAlarm: 2 },
      );
    }
    for (const [name, table] of Object.entries(props.tables)) {
      alarm(
        `${name}-table-throttles`,
        `DynamoDB throttled requests to the ${name} table.`,
        table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: fiveMinutes }),
        0,
        { runbook: RUNBOOKS.dynamodb },
      );
      alarm(
        `${name}-table-system-errors`,
        `DynamoDB answered requests to the ${name} table with a 500 (its own fault).`,
        table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: fiveMinutes }),
        0,
        { runbook: RUNBOOKS.dynamodb },
      );
    }
    alarm(
      "sweeper-not-running",
      `The sweeper has not run for 3 × 5 minutes (it runs every ${props.sweeperEveryMinutes} minute(s)): expiries and lost notifications wait. No data counts as not running.`,
      functions.sweeper.function.metricInvocations({ period: fiveMinutes, statistic: Stats.SUM }),
      1,
      {
        runbook: RUNBOOKS.sweeperNotRunning,
        evaluationPeriods: 3,
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        missingData: TreatMissingData.BREACHING,
      },
    );

    const apiMetric = (
      api: RestApi,
      metricName: string,
      statistic: string,
      extra: Record<string, string> = {},
    ) =>
      new Metric({
        namespace: "AWS/ApiGateway",
        metricName,
        dimensionsMap: { ApiName: api.restApiName, Stage: STAGE_NAME, ...extra },
        period: fiveMinutes,
        statistic,
      });
    alarm(
      "api-5xx",
      "The Google-facing API answered 5xx.",
      apiMetric(props.googleApi, "5XXError", Stats.SUM),
      0,
      {
        runbook: RUNBOOKS.api5xx,
      },
    );
    alarm(
      "outcome-api-5xx",
      "The outcome API answered 5xx to the integrator's systems.",
      apiMetric(props.outcomeApi, "5XXError", Stats.SUM),
      0,
      { runbook: RUNBOOKS.api5xx },
    );
    if (props.alarmOnNoGoogleTraffic) {
      alarm(
        "google-traffic-stopped",
        "Google sent no request for 15 minutes: DNS, certificate, WAF or Google's side. No data counts as no traffic.",
        apiMetric(props.googleApi, "Count", Stats.SUM),
        1,
        {
          runbook: RUNBOOKS.googleTrafficStopped,
          evaluationPeriods: 3,
          comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
          missingData: TreatMissingData.BREACHING,
        },
      );
    }
    const captureLatency = (statistic: string) =>
      apiMetric(props.googleApi, "Latency", statistic, {
        Method: props.captureRoute.method,
        Resource: props.captureRoute.path,
      });
    alarm(
      "capture-latency-p99",
      `p99 latency of ${props.captureRoute.method} ${props.captureRoute.path} as Google sees it (API Gateway, cold starts included) is over ${props.captureLatencyThresholdMs} ms; Google counts no answer within 7 s as a failure.`,
      captureLatency(Stats.p(99)),
      props.captureLatencyThresholdMs,
      { runbook: RUNBOOKS.captureLatency, evaluationPeriods: 3, datapointsToAlarm: 2 },
    );
    // Emitted by every process that loads the keyrings (cold start, then every KEYRING_TTL_SECONDS).
    const keyMetric = (metricName: string, statistic: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS.envelopeService },
        period: Duration.hours(1),
        statistic,
      });
    alarm(
      "keys-skipped",
      "A keyring holds a key the service cannot use (expired, revoked, too weak, no encryption subkey): it is skipped; remove or replace it. `npm run ops -- keys --env <name>` says which and why.",
      keyMetric(METRICS.keysSkipped, Stats.MAXIMUM),
      0,
      { runbook: RUNBOOKS.keys },
    );
    alarm(
      "key-expires-within-30-days",
      "A key of ours or of Google's expires within 30 days: rotate it (infra/cdk/DEPLOY.md, keys). When a side has no usable key left, Google's requests are answered 503.",
      keyMetric(METRICS.keyDaysToExpiry, Stats.MINIMUM),
      30,
      { runbook: RUNBOOKS.keys, comparison: ComparisonOperator.LESS_THAN_THRESHOLD },
    );

    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: `${prefix}integrator`,
      defaultInterval: Duration.hours(3),
    });
    const fns = Object.values(functions);
    const perFunction = (label: string, metric: (f: GspFunction) => IMetric) =>
      new GraphWidget({ title: label, width: 8, left: fns.map(metric) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${prefix}integrator\nAlarms go to the ${prefix}alarms topic. Each alarm names its runbook in infra/cdk/DEPLOY.md.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: "Alarms", alarms: [...this.alarms.values()], width: 24, height: 6 }),
    );
    const perMinute = (m: Metric, label: string) => m.with({ period: oneMinute, label });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Google API requests and errors",
        width: 8,
        left: [
          perMinute(apiMetric(props.googleApi, "Count", Stats.SUM), "requests"),
          perMinute(apiMetric(props.googleApi, "4XXError", Stats.SUM), "4xx"),
          perMinute(apiMetric(props.googleApi, "5XXError", Stats.SUM), "5xx"),
          perMinute(custom(METRICS.envelopeRejected, METRICS.envelopeService, Stats.SUM), "envelope refused"),
        ],
      }),
      new GraphWidget({
        title: `${props.captureRoute.path} latency (ms)`,
        width: 8,
        left: [Stats.p(50), Stats.p(99), Stats.MAXIMUM].map((s) => perMinute(captureLatency(s), s)),
        leftAnnotations: [{ value: props.captureLatencyThresholdMs, label: "alarm" }],
      }),
      new GraphWidget({
        title: "Notifications queue",
        width: 8,
        left: [
          notifications.queue.metricApproximateNumberOfMessagesVisible({
            label: "waiting",
            period: oneMinute,
          }),
          notifications.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: "in DLQ",
            period: oneMinute,
          }),
        ],
        right: [
          notifications.queue.metricApproximateAgeOfOldestMessage({
            label: "oldest message (s)",
            period: oneMinute,
          }),
          custom(METRICS.oldestDueRecordAgeSeconds, METRICS.sweeperService, Stats.MAXIMUM, oneMinute),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Notifications to Google",
        width: 8,
        left: [
          METRICS.notificationDelivered,
          METRICS.notificationFailed,
          METRICS.googleVerificationFailed,
        ].map((name) => custom(name, METRICS.notifierService, Stats.SUM, oneMinute)),
      }),
      perFunction("Errors", (f) =>
        f.function.metricErrors({ label: f.name, period: oneMinute, statistic: Stats.SUM }),
      ),
      perFunction("Duration p99 (ms)", (f) =>
        f.function.metricDuration({ label: f.name, period: oneMinute, statistic: Stats.p(99) }),
      ),
    );
    this.dashboard.addWidgets(
      perFunction("Invocations", (f) =>
        f.function.metricInvocations({ label: f.name, period: oneMinute, statistic: Stats.SUM }),
      ),
      perFunction("Throttles", (f) =>
        f.function.metricThrottles({ label: f.name, period: oneMinute, statistic: Stats.SUM }),
      ),
      perFunction("Concurrent executions", (f) =>
        f.function.metric("ConcurrentExecutions", {
          label: f.name,
          period: oneMinute,
          statistic: Stats.MAXIMUM,
        }),
      ),
    );
  }
}
