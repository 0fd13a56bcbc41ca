/**
 * What a command acts on: the local stack (described by .local/stack.json, written by `npm start`)
 * or a deployed environment (`--env NAME`: the usual AWS credentials and region; tables and queues
 * named gsp-NAME-…). Resolved before anything runs, so every command can say where it is acting.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { RUNTIME_DEFAULTS } from "../../shared/config.ts";
import { LOCAL_AWS } from "../local/local-aws.ts";
import { readStackFile, type StackFile, stackFilePath } from "../local/stack-file.ts";
import { functions, queues, stagePrefix, tables } from "../resources.ts";
import { OpsError, usage } from "./command.ts";
import type { Schedule } from "./explain.ts";

export interface Target {
  kind: "local" | "environment";
  /** The environment's name, or "local". */
  environment: string;
  account: string;
  region: string;
  db: DynamoDBClient;
  sqs: SQSClient;
  tables: Record<keyof typeof tables, string>;
  queues: { notifications: string; deadLetter: string };
  /** The delivery schedule: the local stack's own; for an environment, the deployed defaults. */
  schedule: Schedule;
  /** The local stack's description file, when local. */
  stackFile?: string;
  /** What that file says (read once, here). */
  stack?: StackFile;
  close(): void;
}

/** One line naming everything the command may touch. */
export function describeTarget(t: Target): string {
  const where =
    t.kind === "local"
      ? `local stack (${t.stackFile})`
      : `environment ${t.environment}, account ${t.account}, region ${t.region}`;
  const name = (url: string) => url.slice(url.lastIndexOf("/") + 1);
  return `target: ${where}; tables ${Object.values(t.tables).join(", ")}; queues ${name(t.queues.notifications)}, ${name(t.queues.deadLetter)}`;
}

export const targetJson = (t: Target) => ({
  kind: t.kind,
  environment: t.environment,
  account: t.account,
  region: t.region,
  tables: t.tables,
  queues: t.queues,
});

const DEPLOYED_SCHEDULE: Schedule = {
  maxReceiveCount: queues.notifications.deadLetter.maxReceiveCount,
  backoffBaseSeconds: RUNTIME_DEFAULTS.notify.backoffBaseSeconds,
  backoffCapSeconds: RUNTIME_DEFAULTS.notify.backoffCapSeconds,
  sweepEverySeconds: functions.sweeper.schedule.everyMinutes * 60,
  enqueueGraceSeconds: RUNTIME_DEFAULTS.enqueueGraceSeconds,
};

/** The account of a queue, from its URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME). */
const accountOf = (queueUrl: string) => queueUrl.split("/").at(-2) ?? "?";

export async function resolveTarget(values: { env?: string; "stack-file"?: string }): Promise<Target> {
  if (values.env !== undefined) {
    if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(values.env))
      throw usage(`--env takes an environment name (dev, sandbox, prod…), not "${values.env}".`);
    if (values["stack-file"]) throw usage("--env and --stack-file name two different targets: give one.");
    const prefix = stagePrefix(values.env);
    const db = new DynamoDBClient({});
    // The queue URL names the queue; the endpoint comes from the region (or AWS_ENDPOINT_URL_SQS).
    const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
    const close = () => {
      db.destroy();
      sqs.destroy();
    };
    try {
      const url = async (QueueName: string) =>
        (await sqs.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl!;
      const [notifications, deadLetter] = await Promise.all([
        url(`${prefix}${queues.notifications.name}`),
        url(`${prefix}${queues.notifications.deadLetter.name}`),
      ]);
      return {
        kind: "environment",
        environment: values.env,
        account: accountOf(notifications),
        region: await sqs.config.region(),
        db,
        sqs,
        tables: Object.fromEntries(
          Object.entries(tables).map(([logical, t]) => [logical, `${prefix}${t.name}`]),
        ) as Record<keyof typeof tables, string>,
        queues: { notifications, deadLetter },
        schedule: DEPLOYED_SCHEDULE,
        close,
      };
    } catch (error) {
      close();
      throw new OpsError(
        `cannot reach environment ${values.env} (its queues gsp-${values.env}-…): ${(error as Error).message}`,
      );
    }
  }
  const file = stackFilePath(values["stack-file"]);
  const stack = readStackFile(file);
  if (!stack) throw new OpsError(`no running local stack described at ${file}: start one with \`npm start\``);
  const db = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.endpoints.dynamodb });
  const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: stack.endpoints.sqs, useQueueUrlAsEndpoint: false });
  return {
    kind: "local",
    environment: "local",
    account: accountOf(stack.queues.notifications.url),
    region: LOCAL_AWS.region,
    db,
    sqs,
    tables: stack.tables,
    queues: {
      notifications: stack.queues.notifications.url,
      deadLetter: stack.queues.notifications.deadLetterUrl,
    },
    schedule: { ...DEPLOYED_SCHEDULE, ...stack.schedule },
    stackFile: file,
    stack,
    close: () => {
      db.destroy();
      sqs.destroy();
    },
  };
}
