/**
 * The notifications DLQ: depth without receiving, a list that puts every message back at once,
 * deleting one poison message with a recorded reason, and replay (server-side where SQS offers it).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { addOperatorNote } from "../../shared/adapters/dynamodb/capture-queries.ts";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { DynamoRefundStore } from "../../shared/adapters/dynamodb/refund-store.ts";
import { messageSubject, parseNotificationMessage } from "../../shared/adapters/sqs/notification-queue.ts";
import type { NotificationMessage } from "../../shared/domain/capture-outcome-service.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import {
  ago,
  type Command,
  durationOption,
  EXIT,
  integerOption,
  OpsError,
  progress,
  usage,
  type Values,
} from "./command.ts";
import type { Target } from "./target.ts";

/** How long a message stays hidden while this CLI holds it; each is released as soon as it is read. */
const HIDE_WHILE_READING_SECONDS = 30;
const HIDE_WHILE_MOVING_SECONDS = 120;

interface Depth {
  waiting: number;
  inFlight: number;
  delayed: number;
}

async function depthOf(sqs: SQSClient, QueueUrl: string): Promise<Depth> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  const n = (name: keyof NonNullable<typeof out.Attributes>) => Number(out.Attributes?.[name] ?? 0);
  return {
    waiting: n("ApproximateNumberOfMessages"),
    inFlight: n("ApproximateNumberOfMessagesNotVisible"),
    delayed: n("ApproximateNumberOfMessagesDelayed"),
  };
}

/** Receives up to `limit` messages once each, hidden for `hideSeconds`; long polls so real SQS looks at every server. */
async function receiveUpTo(sqs: SQSClient, QueueUrl: string, limit: number, hideSeconds: number) {
  const seen = new Map<string, Message>();
  while (seen.size < limit) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: Math.min(10, limit - seen.size),
        VisibilityTimeout: hideSeconds,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    const fresh = (out.Messages ?? []).filter((m) => !seen.has(m.MessageId!));
    if (fresh.length === 0) break;
    for (const m of fresh) seen.set(m.MessageId!, m);
  }
  return [...seen.values()];
}

/** Makes messages visible again at once, so the DLQ's depth (and its alarm) never dips while we look. */
async function release(sqs: SQSClient, QueueUrl: string, messages: Message[]) {
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: messages.slice(i, i + 10).map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

const sentAt = (m: Message) => Number(m.Attributes?.SentTimestamp ?? Date.now());

interface Filters {
  captureRequestId?: string;
  piaid?: string;
  olderThanMs?: number;
}

function filtersFrom(values: Values): Filters {
  return {
    ...(typeof values["capture-request-id"] === "string" && {
      captureRequestId: values["capture-request-id"],
    }),
    ...(typeof values.piaid === "string" && { piaid: values.piaid }),
    ...(typeof values["older-than"] === "string" && {
      olderThanMs: durationOption("older-than", values["older-than"]),
    }),
  };
}

function matches(m: Message, f: Filters, now: number): NotificationMessage | undefined {
  const msg = parseNotificationMessage(m.Body ?? "");
  if (!msg) return undefined;
  if (f.captureRequestId !== undefined && messageSubject(msg).requestId !== f.captureRequestId)
    return undefined;
  if (f.piaid !== undefined && msg.paymentIntegratorAccountId !== f.piaid) return undefined;
  if (f.olderThanMs !== undefined && now - sentAt(m) < f.olderThanMs) return undefined;
  return msg;
}

const limitOf = (values: Values) =>
  values.limit === undefined ? 1000 : integerOption("limit", String(values.limit), 1, 10_000);

const FILTER_OPTIONS = {
  "capture-request-id": { type: "string" as const, description: "only this capture's messages" },
  piaid: { type: "string" as const, description: "only this PIAID's messages" },
  "older-than": { type: "string" as const, description: "only messages sent longer ago than this (30m, 2h)" },
};

const depth: Command = {
  name: "dlq depth",
  synopsis: "",
  summary: "how many messages wait in the DLQ and the queue, from queue attributes (receives nothing)",
  help: `Reads the queues' attributes: messages waiting, in flight (received by someone and hidden) and
delayed, for the notifications DLQ and the notifications queue. Receives nothing, hides nothing.`,
  async run(ctx) {
    const [dlq, queue] = await Promise.all([
      depthOf(ctx.target.sqs, ctx.target.queues.deadLetter),
      depthOf(ctx.target.sqs, ctx.target.queues.notifications),
    ]);
    ctx.print(`DLQ: ${dlq.waiting} waiting, ${dlq.inFlight} in flight (being read or replayed)`);
    ctx.print(
      `queue: ${queue.waiting} waiting, ${queue.inFlight} in flight, ${queue.delayed} delayed (retries)`,
    );
    ctx.result({ deadLetter: dlq, notifications: queue });
    return EXIT.OK;
  },
};

const list: Command<{ limit: number }> = {
  name: "dlq list",
  synopsis: "[--limit N]",
  summary: "what is in the DLQ: captureRequestId, PIAID, age, tries, last error",
  help: `Lists up to --limit (default 1000) messages of the notifications DLQ: captureRequestId, PIAID,
age, delivery tries and last error from the capture record. Reading hides a message from other
readers, so each message is put back (visibility 0) as soon as it has been read, well within a
second of its receive (never more than ${HIDE_WHILE_READING_SECONDS} s): the DLQ alarm and other operators keep seeing it.
Two lists at the same moment may each see fewer. Nothing is deleted or moved.`,
  options: { limit: { type: "string", description: "at most this many messages (1-10000)" } },
  check: (values) => ({ limit: limitOf(values) }),
  async run(ctx, { limit }) {
    const { sqs, queues } = ctx.target;
    const before = await depthOf(sqs, queues.deadLetter);
    const messages = await receiveUpTo(sqs, queues.deadLetter, limit, HIDE_WHILE_READING_SECONDS);
    await release(sqs, queues.deadLetter, messages);
    const captures = new DynamoCaptureStore(ctx.target.db, ctx.target.tables);
    const refunds = new DynamoRefundStore(ctx.target.db, ctx.target.tables, { enqueueGraceMs: 0 });
    const now = Date.now();
    const rows = [];
    for (const m of messages) {
      const msg = parseNotificationMessage(m.Body ?? "");
      const subject = msg && messageSubject(msg);
      const key = msg && subject && idempotencyKey(msg.paymentIntegratorAccountId, subject.requestId);
      const record = key ? await (subject?.kind === "refund" ? refunds : captures).get(key) : undefined;
      const attempts = record?.notification?.attempts ?? [];
      rows.push({
        messageId: m.MessageId!,
        kind: subject?.kind,
        captureRequestId: subject?.requestId,
        paymentIntegratorAccountId: msg?.paymentIntegratorAccountId,
        ageMs: now - sentAt(m),
        tries: attempts.length,
        lastError: [...attempts].reverse().find((a) => a.outcome !== "SUCCESS")?.outcome,
        malformed: msg === undefined,
      });
    }
    ctx.print("captureRequestId\tPIAID\tage\ttries\tlast error");
    for (const r of rows) {
      ctx.print(
        r.malformed
          ? `(malformed)\t-\t${ago(r.ageMs)}\t-\tnot a notification message: \`dlq delete --message-id ${r.messageId} --reason …\``
          : `${r.captureRequestId}\t${r.paymentIntegratorAccountId}\t${ago(r.ageMs)}\t${r.tries}\t${r.lastError ?? "-"}`,
      );
    }
    const total = before.waiting + before.inFlight;
    const more = total > rows.length;
    ctx.print(
      more
        ? `showing ${rows.length} of about ${total} message(s) in the DLQ${rows.length >= limit ? `: --limit ${Math.min(10_000, total)} shows more` : " (others are in flight: being read or replayed by someone else)"}`
        : `${rows.length} message(s) in the DLQ`,
    );
    ctx.result({ messages: rows, shown: rows.length, approximateTotal: Math.max(total, rows.length) });
    return EXIT.OK;
  },
};

const REASON = /^[\x20-\x7E]{3,500}$/;

const remove: Command<{ byId: string | undefined; filters: Filters; reason: string }> = {
  name: "dlq delete",
  synopsis: "(--message-id ID | --piaid P --capture-request-id ID) --reason TEXT",
  summary: "delete one message from the DLQ (a poison message, or one settled by hand), with a reason",
  help: `Deletes from the DLQ the message with --message-id (as \`dlq list --json\` shows it; a malformed
message is listed with its id), or the message(s) of one capture (--piaid and --capture-request-id).
--reason (3-500 printable characters) is required: it is added to the capture record's operator
notes (\`captures show\` prints them) and printed as an audit line on stderr. A message that names
no capture has no record to carry the reason: only the audit line has it.`,
  options: {
    "message-id": { type: "string", description: "the SQS message id" },
    piaid: FILTER_OPTIONS.piaid,
    "capture-request-id": FILTER_OPTIONS["capture-request-id"],
    reason: { type: "string", description: "why (kept on the capture record)" },
  },
  changes: true,
  check(v) {
    const byId = typeof v["message-id"] === "string" ? v["message-id"] : undefined;
    const byCapture = typeof v["capture-request-id"] === "string" && typeof v.piaid === "string";
    if (byId === undefined && !byCapture)
      throw usage("dlq delete needs --message-id, or --piaid with --capture-request-id.");
    if (byId !== undefined && (v["capture-request-id"] !== undefined || v.piaid !== undefined))
      throw usage("dlq delete takes --message-id or --piaid with --capture-request-id, not both.");
    if (typeof v.reason !== "string" || !REASON.test(v.reason))
      throw usage("dlq delete needs --reason with 3-500 printable characters: why this message can go.");
    return { byId, filters: filtersFrom(v), reason: v.reason };
  },
  async run(ctx, { byId, filters, reason }) {
    const v = ctx.values;
    const what = byId ? `message ${byId}` : `the message(s) of capture ${v.piaid} ${v["capture-request-id"]}`;
    await ctx.confirm(`delete ${what} from the DLQ`);
    const { sqs, queues } = ctx.target;
    const messages = await receiveUpTo(sqs, queues.deadLetter, 10_000, HIDE_WHILE_READING_SECONDS);
    const chosen = messages.filter((m) => (byId ? m.MessageId === byId : matches(m, filters, Date.now())));
    await release(
      sqs,
      queues.deadLetter,
      messages.filter((m) => !chosen.includes(m)),
    );
    if (chosen.length === 0) throw new OpsError(`no ${what} in the DLQ`);
    const deleted = [];
    for (const m of chosen) {
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queues.deadLetter, ReceiptHandle: m.ReceiptHandle! }),
      );
      const msg = parseNotificationMessage(m.Body ?? "");
      const atMs = Date.now();
      const onRecord =
        msg !== undefined &&
        (await addOperatorNote(
          ctx.target.db,
          messageSubject(msg).kind === "refund" ? ctx.target.tables.refunds : ctx.target.tables.captures,
          idempotencyKey(msg.paymentIntegratorAccountId, messageSubject(msg).requestId),
          { atMs, action: `deleted DLQ message ${m.MessageId}`, reason },
        ));
      process.stderr.write(
        `${JSON.stringify({
          level: "INFO",
          message: "dlq message deleted",
          environment: ctx.target.environment,
          account: ctx.target.account,
          messageId: m.MessageId,
          ...(msg && {
            paymentIntegratorAccountId: msg.paymentIntegratorAccountId,
            [messageSubject(msg).kind === "refund" ? "refundRequestId" : "captureRequestId"]:
              messageSubject(msg).requestId,
          }),
          reason,
          reasonOnRecord: onRecord,
          timestamp: new Date(atMs).toISOString(),
        })}\n`,
      );
      ctx.print(
        `deleted message ${m.MessageId}${msg ? ` (${messageSubject(msg).kind} ${msg.paymentIntegratorAccountId} ${messageSubject(msg).requestId})` : " (malformed)"} from the DLQ; reason ${onRecord ? "added to the capture record" : "in the audit line only (no capture record)"}`,
      );
      deleted.push({ messageId: m.MessageId, ...msg, reasonOnRecord: onRecord });
    }
    ctx.result({ deleted });
    return EXIT.OK;
  },
};

/** SQS's own move task; undefined where the queue service has none (the local emulator). */
async function startServerSideMove(target: Target): Promise<string | undefined> {
  const arn = async (QueueUrl: string) =>
    (await target.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] })))
      .Attributes!.QueueArn!;
  const [source, destination] = await Promise.all([
    arn(target.queues.deadLetter),
    arn(target.queues.notifications),
  ]);
  try {
    const out = await target.sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: source, DestinationArn: destination }),
    );
    return out.TaskHandle ?? "";
  } catch (error) {
    const name = (error as Error).name;
    if (name === "InvalidAction" || name === "UnsupportedOperation" || name === "UnknownOperationException")
      return undefined;
    throw error;
  }
}

const replay: Command<{ filters: Filters; limit: number; dryRun: boolean; filtered: boolean }> = {
  name: "dlq replay",
  synopsis: "[--capture-request-id ID] [--piaid P] [--older-than 30m] [--limit N] [--selective] [--dry-run]",
  summary: "move DLQ messages back to the notifications queue (server-side when unfiltered)",
  help: `Moves DLQ messages back to the notifications queue. The notifier then sends what the capture
record holds: the same result and requestId as before, never a new one.
Without filters it starts SQS's server-side move task (StartMessageMoveTask): SQS moves every
message itself; \`dlq depth\` shows the DLQ draining. Where the queue service has none (the local
emulator), or with filters, --limit or --selective, it moves message by message: receive (hidden
for up to ${HIDE_WHILE_MOVING_SECONDS} s), send to the queue, delete; messages that do not match are put back at once.
Malformed messages are never moved (see \`dlq delete\`). --dry-run says what would move, and moves nothing.`,
  options: {
    ...FILTER_OPTIONS,
    limit: { type: "string", description: "look at most at this many messages (1-10000)" },
    selective: { type: "boolean", description: "message by message even without filters" },
    "dry-run": { type: "boolean", description: "say what would move; move nothing" },
  },
  changes: true,
  check(values) {
    const filters = filtersFrom(values);
    return {
      filters,
      limit: limitOf(values),
      dryRun: values["dry-run"] === true,
      filtered: Object.keys(filters).length > 0 || values.limit !== undefined,
    };
  },
  async run(ctx, { filters, limit, dryRun, filtered }) {
    const { sqs, queues } = ctx.target;
    if (!dryRun)
      await ctx.confirm(`move ${filtered ? "the matching" : "every"} DLQ message back to the queue`);
    if (!dryRun && !filtered && ctx.values.selective !== true) {
      const before = await depthOf(sqs, queues.deadLetter);
      const handle = await startServerSideMove(ctx.target);
      if (handle !== undefined) {
        ctx.print(
          `started a server-side move of about ${before.waiting} message(s) from the DLQ to the queue (task ${handle}); \`dlq depth\` shows the DLQ draining`,
        );
        ctx.result({ mode: "server-side", taskHandle: handle, approximateMessages: before.waiting });
        return EXIT.OK;
      }
      process.stderr.write("no server-side move task on this queue service: moving message by message\n");
    }
    const messages = await receiveUpTo(sqs, queues.deadLetter, limit, HIDE_WHILE_MOVING_SECONDS);
    const now = Date.now();
    const chosen = messages
      .map((m) => ({ m, msg: matches(m, filters, now) }))
      .filter((c): c is { m: Message; msg: NotificationMessage } => c.msg !== undefined);
    const malformed = messages.filter((m) => parseNotificationMessage(m.Body ?? "") === undefined).length;
    // Everything not moved goes back at once; with --dry-run that is everything.
    await release(
      sqs,
      queues.deadLetter,
      dryRun ? messages : messages.filter((m) => !chosen.some((c) => c.m === m)),
    );
    if (dryRun) {
      for (const c of chosen) ctx.print(`would replay ${messageSubject(c.msg).requestId}`);
      ctx.print(`dry run: ${chosen.length} of ${messages.length} DLQ message(s) match; nothing moved`);
      ctx.result({ mode: "dry-run", matching: chosen.map((c) => c.msg), looked: messages.length });
      return EXIT.OK;
    }
    let done = 0;
    for (const { m } of chosen) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queues.notifications, MessageBody: m.Body! }));
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queues.deadLetter, ReceiptHandle: m.ReceiptHandle! }),
      );
      progress(++done, chosen.length);
    }
    ctx.print(`replayed ${done} message(s); ${messages.length - done} left in the DLQ`);
    if (malformed > 0)
      ctx.print(
        `${malformed} malformed message(s) left: \`dlq list\` shows them, \`dlq delete --message-id\` removes one`,
      );
    ctx.result({
      mode: "message-by-message",
      replayed: chosen.map((c) => c.msg),
      left: messages.length - done,
      malformed,
    });
    return EXIT.OK;
  },
};

export const dlqCommands = [depth, list, remove, replay] as Command<unknown>[];
