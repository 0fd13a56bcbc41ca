import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import type { HttpApi, HttpStage } from "aws-cdk-lib/aws-apigatewayv2";
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
import { ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS } from "../../../shared/metrics.ts";
import type { FunctionName } from "../../resources.ts";
import type { GspFunction } from "./gsp-function.ts";
import { METRICS_NAMESPACE } from "./gsp-function.ts";

export interface MonitoringProps {
  /** Prefix of alarm and dashboard names, e.g. gsp-prod-. */
  prefix: string;
  alarmEmail: string;
  functions: Record<FunctionName, GspFunction>;
  api: HttpApi;
  stage: HttpStage;
  /** The route whose p99 latency is alarmed on (Google gives up after 7 s). */
  captureRoute: { method: string; path: string };
  captureLatencyThresholdMs: number;
  notifications: { queue: IQueue; deadLetterQueue: IQueue };
  /** Age at which the oldest notification means deliveries are stuck, not merely retrying. */
  oldestNotificationThresholdSeconds: number;
  keyRemovalPolicy: RemovalPolicy;
}

/** Alarms to one encrypted SNS topic (e-mail), and one dashboard. */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms = new Map<string, Alarm>();
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
    const action = new SnsAction(this.topic);

    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      options: { evaluationPeriods?: number; datapointsToAlarm?: number; below?: boolean } = {},
    ) => {
      const created = new Alarm(this, name, {
        alarmName: `${prefix}${name}`,
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: options.below
          ? ComparisonOperator.LESS_THAN_THRESHOLD
          : ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        datapointsToAlarm: options.datapointsToAlarm ?? options.evaluationPeriods ?? 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.set(name, created);
      return created;
    };

    const notifier = functions.notifier.function;
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    alarm(
      "notifications-dlq-not-empty",
      "A captureResultNotification gave up after maxReceiveCount tries. Runbook: infra/cdk/DEPLOY.md, DLQ.",
      notifications.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: oneMinute,
        statistic: Stats.MAXIMUM,
      }),
      0,
    );
    alarm(
      "notifications-oldest-message-age",
      "The oldest notification has waited longer than the longest retry delay: deliveries to Google are failing repeatedly.",
      notifications.queue.metricApproximateAgeOfOldestMessage({
        period: oneMinute,
        statistic: Stats.MAXIMUM,
      }),
      props.oldestNotificationThresholdSeconds,
      { evaluationPeriods: 5 },
    );
    alarm(
      "notifier-errors",
      "The notifier function failed whole invocations (not single deliveries).",
      notifier.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
      0,
    );
    const googleVerificationFailed = new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRICS.googleVerificationFailed,
      dimensionsMap: { service: METRICS.notifierService },
      period: fiveMinutes,
      statistic: Stats.SUM,
    });
    alarm(
      "google-verification-failed",
      "Google answered a notification with an empty 404: it could not verify us (signing key, encryption key or PIAID). Retrying will not fix it.",
      googleVerificationFailed,
      0,
    );
    alarm(
      "api-5xx",
      "The HTTP API answered 5xx.",
      props.api.metricServerError({ period: fiveMinutes, statistic: Stats.SUM }),
      0,
    );
    const captureLatency = (statistic: string) =>
      new Metric({
        namespace: "AWS/ApiGateway",
        metricName: "Latency",
        dimensionsMap: {
          ApiId: props.api.apiId,
          Stage: props.stage.stageName,
          Method: props.captureRoute.method,
          Resource: props.captureRoute.path,
        },
        period: fiveMinutes,
        statistic,
      });
    alarm(
      "capture-latency-p99",
      `p99 latency of ${props.captureRoute.method} ${props.captureRoute.path} as Google sees it (API Gateway, cold starts included) is over ${props.captureLatencyThresholdMs} ms; Google counts no answer within 7 s as a failure.`,
      captureLatency(Stats.p(99)),
      props.captureLatencyThresholdMs,
      { evaluationPeriods: 3, datapointsToAlarm: 2 },
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
    );
    alarm(
      "key-expires-within-30-days",
      "A key of ours or of Google's expires within 30 days: rotate it (infra/cdk/DEPLOY.md, keys). When a side has no usable key left, Google's requests are answered 503.",
      keyMetric(METRICS.keyDaysToExpiry, Stats.MINIMUM),
      30,
      { below: true },
    );
    alarm(
      "sweeper-errors",
      "The sweeper failed: expiries and unsent notifications wait for a run that succeeds.",
      functions.sweeper.function.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
      0,
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
        markdown: `# ${prefix}integrator\nAlarms go to the ${prefix}alarms topic. DLQ runbook: infra/cdk/DEPLOY.md.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: "Alarms", alarms: [...this.alarms.values()], width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "API requests and errors",
        width: 8,
        left: [
          props.api.metricCount({ period: oneMinute, statistic: Stats.SUM, label: "requests" }),
          props.api.metricClientError({ period: oneMinute, statistic: Stats.SUM, label: "4xx" }),
          props.api.metricServerError({ period: oneMinute, statistic: Stats.SUM, label: "5xx" }),
        ],
      }),
      new GraphWidget({
        title: `${props.captureRoute.path} latency (ms)`,
        width: 8,
        left: [Stats.p(50), Stats.p(99), Stats.MAXIMUM].map((s) => {
          const m = captureLatency(s);
          return m.with({ label: s, period: oneMinute });
        }),
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
          notifications.queue.metricApproximateAgeOfOldestMessage({ label: "oldest (s)", period: oneMinute }),
        ],
      }),
    );
    const notifierMetric = (metricName: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS.notifierService },
        period: oneMinute,
        statistic: Stats.SUM,
        label: metricName,
      });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Notifications to Google",
        width: 8,
        left: [
          METRICS.notificationDelivered,
          METRICS.notificationFailed,
          METRICS.googleVerificationFailed,
        ].map(notifierMetric),
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
