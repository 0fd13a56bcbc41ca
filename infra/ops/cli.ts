/**
 * Operator commands: `npm run ops -- <command> --help`. They work against the local stack (found
 * through .local/stack.json, written by `npm start`) or a deployed environment (`--env NAME`, with
 * the usual AWS credentials and region).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { parseNotificationMessage } from "../../shared/adapters/sqs/notification-queue.ts";
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { LOCAL_AWS } from "../local/local-aws.ts";
import { queues, stagePrefix, tables } from "../resources.ts";
import { KEYS_HELP, keysCommand } from "./keys.ts";

const DEFAULT_STACK_FILE = resolve(import.meta.dirname, "../../.local/stack.json");

const HELP: Record<string, string> = {
  "": `usage: npm run ops -- <command> [options]    (each command has --help)

  ledger load <fixture.json>                    load a ledger fixture (local stack)
  dlq list                                      what is in the notifications DLQ
  dlq replay [filters] [--dry-run]              move DLQ messages back to the notifications queue
  captures show <PIAID> <captureRequestId>      a capture record, its state and delivery history
  captures renotify <PIAID> <captureRequestId>  send the stored notification again (same result, same requestId)
  keys [--json]                                 each loaded key: fingerprint, side, algorithm, expiry, usable or why not

target (every command):
  --stack-file <path>   the local stack's description (default .local/stack.json, written by npm start)
  --env <name>          a deployed environment instead (tables and queues named gsp-<name>-…)`,
  keys: KEYS_HELP,
  "ledger load": `usage: npm run ops -- ledger load <fixture.json> [--stack-file path]

Loads a ledger fixture into the running local stack: accounts, instruments, OTPs… are replaced,
balances included. The format is in README "Ledger fixtures".`,
  "dlq list": `usage: npm run ops -- dlq list [--limit N]

Lists the notifications DLQ: captureRequestId, PIAID, age, delivery attempts, last error.
Messages are only looked at: they stay in the DLQ.`,
  "dlq replay": `usage: npm run ops -- dlq replay [--capture-request-id ID] [--piaid PIAID] [--older-than 30m] [--dry-run] [--limit N]

Moves DLQ messages back to the notifications queue, all or those matching every filter given
(--older-than takes s, m, h or d). The notifier then sends what the capture record holds: the
same result and requestId as before, never a new one. --dry-run says what would move.`,
  "captures show": `usage: npm run ops -- captures show <PIAID> <captureRequestId>

Prints the capture record: method, state, amount, result, outcome, the notification owed and
every delivery attempt.`,
  "captures renotify": `usage: npm run ops -- captures renotify <PIAID> <captureRequestId>

Enqueues the stored notification again (the stored result and requestId, never a new one), even
if it was delivered before.`,
};

interface Target {
  db: DynamoDBClient;
  sqs: SQSClient;
  tables: { ledger: string; captures: string };
  queueUrl: () => Promise<string>;
  dlqUrl: () => Promise<string>;
  close(): void;
}

function targetFrom(values: { env?: string; "stack-file"?: string }): Target {
  if (values.env) {
    const prefix = stagePrefix(values.env);
    const db = new DynamoDBClient({});
    const sqs = new SQSClient({});
    const url = async (QueueName: string) =>
      (await sqs.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl!;
    return {
      db,
      sqs,
      tables: { ledger: `${prefix}${tables.ledger.name}`, captures: `${prefix}${tables.captures.name}` },
      queueUrl: () => url(`${prefix}${queues.notifications.name}`),
      dlqUrl: () => url(`${prefix}${queues.notifications.deadLetter.name}`),
      close: () => {
        db.destroy();
        sqs.destroy();
      },
    };
  }
  const file = values["stack-file"] ?? DEFAULT_STACK_FILE;
  let stack: {
    endpoints: { dynamodb: string; sqs: string };
    tables: { ledger: string; captures: string };
    queues: { notifications: { url: string; deadLetterUrl: string } };
  };
  try {
    stack = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new UsageError(`no running local stack described at ${file}: start one with \`npm start\``, 1);
  }
  const db = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.endpoints.dynamodb });
  const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: stack.endpoints.sqs, useQueueUrlAsEndpoint: false });
  return {
    db,
    sqs,
    tables: stack.tables,
    queueUrl: async () => stack.queues.notifications.url,
    dlqUrl: async () => stack.queues.notifications.deadLetterUrl,
    close: () => {
      db.destroy();
      sqs.destroy();
    },
  };
}

/** A mistake in how the command was called (exit 2) or a thing that is not there (exit 1). */
class UsageError extends Error {
  readonly code: number;
  constructor(message: string, code = 2) {
    super(message);
    this.code = code;
  }
}

const DURATION = /^(\d+)(s|m|h|d)$/;
function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new UsageError(`--older-than takes a number and s, m, h or d (e.g. 30m), not ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s"]! * 1000;
}
const ago = (ms: number) =>
  ms < 120_000
    ? `${Math.round(ms / 1000)}s`
    : ms < 7_200_000
      ? `${Math.round(ms / 60_000)}m`
      : `${(ms / 3_600_000).toFixed(1)}h`;

/** Receives every message of a queue once (hidden for `hideSeconds`), at most `limit`. */
async function receiveAll(
  sqs: SQSClient,
  QueueUrl: string,
  limit: number,
  hideSeconds: number,
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let empty = 0; seen.size < limit && empty < 2; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: Math.min(10, limit - seen.size),
        VisibilityTimeout: hideSeconds,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    const fresh = (out.Messages ?? []).filter((m) => !seen.has(m.MessageId!));
    if (fresh.length === 0) empty += 1;
    for (const m of fresh) seen.set(m.MessageId!, m);
  }
  return [...seen.values()];
}

const release = (sqs: SQSClient, QueueUrl: string, m: Message) =>
  sqs.send(
    new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }),
  );

function progress(done: number, total: number) {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  process.stderr.write(
    `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}${done === total ? "\n" : ""}`,
  );
}

function describe(record: CaptureRecord | undefined) {
  const attempts = record?.notification?.attempts ?? [];
  return {
    attempts: attempts.length,
    lastError: [...attempts].reverse().find((a) => a.outcome !== "SUCCESS")?.outcome ?? "-",
  };
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "keys") return keysCommand(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "stack-file": { type: "string" },
      env: { type: "string" },
      limit: { type: "string", default: "1000" },
      "capture-request-id": { type: "string" },
      piaid: { type: "string" },
      "older-than": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [group = "", command = "", ...args] = positionals;
  const name = `${group} ${command}`.trim();
  if (values.help || !(name in HELP) || name === "") {
    console.log(HELP[name] ?? HELP[""]);
    return values.help || name === "" ? 0 : 2;
  }
  const limit = Number(values.limit);
  const target = targetFrom(values);
  try {
    const store = new DynamoCaptureStore(target.db, target.tables);
    if (name === "ledger load") {
      const [file] = args;
      if (!file) throw new UsageError(`ledger load needs the path of a fixture file\n\n${HELP[name]}`);
      const ledger = parseLedgerFixture(JSON.parse(readFileSync(file, "utf8")));
      const n = await loadLedger(target.db, target.tables.ledger, ledger);
      console.log(
        `loaded ${n} ledger items (${ledger.accounts.length} accounts) into ${target.tables.ledger}`,
      );
      return 0;
    }
    if (name === "dlq list") {
      const dlq = await target.dlqUrl();
      const messages = await receiveAll(target.sqs, dlq, limit, 30);
      console.log("captureRequestId\tPIAID\tage\tattempts\tlast error");
      for (const m of messages) {
        const msg = parseNotificationMessage(m.Body ?? "");
        const record =
          msg && (await store.get(idempotencyKey(msg.paymentIntegratorAccountId, msg.captureRequestId)));
        const { attempts, lastError } = describe(record);
        const age = ago(Date.now() - Number(m.Attributes?.SentTimestamp ?? Date.now()));
        console.log(
          `${msg?.captureRequestId ?? "(malformed)"}\t${msg?.paymentIntegratorAccountId ?? "-"}\t${age}\t${attempts}\t${lastError}`,
        );
        await release(target.sqs, dlq, m);
      }
      console.log(`${messages.length} message(s) in the DLQ`);
      return 0;
    }
    if (name === "dlq replay") {
      const [dlq, queue] = [await target.dlqUrl(), await target.queueUrl()];
      const olderThan = values["older-than"] ? parseDuration(values["older-than"]) : undefined;
      const messages = await receiveAll(target.sqs, dlq, limit, 120);
      const matches = (m: Message) => {
        const msg = parseNotificationMessage(m.Body ?? "");
        if (!msg) return false;
        if (values["capture-request-id"] && msg.captureRequestId !== values["capture-request-id"])
          return false;
        if (values.piaid && msg.paymentIntegratorAccountId !== values.piaid) return false;
        if (
          olderThan !== undefined &&
          Date.now() - Number(m.Attributes?.SentTimestamp ?? Date.now()) < olderThan
        )
          return false;
        return true;
      };
      const chosen = messages.filter(matches);
      let done = 0;
      for (const m of messages) {
        if (!chosen.includes(m) || values["dry-run"]) {
          await release(target.sqs, dlq, m);
          continue;
        }
        await target.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: m.Body! }));
        await target.sqs.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: m.ReceiptHandle! }));
        progress(++done, chosen.length);
      }
      if (values["dry-run"]) {
        for (const m of chosen)
          console.log(`would replay ${parseNotificationMessage(m.Body!)!.captureRequestId}`);
        console.log(`dry run: ${chosen.length} of ${messages.length} DLQ message(s) match; nothing moved`);
      } else {
        console.log(`replayed ${done} message(s); ${messages.length - done} left in the DLQ`);
      }
      return 0;
    }
    const [piaid, captureRequestId] = args;
    if (!piaid || !captureRequestId)
      throw new UsageError(`${name} needs a PIAID and a captureRequestId\n\n${HELP[name]}`);
    const key = idempotencyKey(piaid, captureRequestId);
    const record = await store.get(key);
    if (!record) throw new UsageError(`no capture ${captureRequestId} for ${piaid}`, 1);
    if (name === "captures show") {
      const n = record.notification;
      console.log(
        [
          `capture ${record.requestId} (${record.paymentIntegratorAccountId}), ${record.method}`,
          `  state: ${record.state}${record.deadlineMs ? `, deadline ${new Date(record.deadlineMs).toISOString()}` : ""}`,
          `  amount: ${record.amount} micros ${record.currencyCode}, account ${record.accountId}, instrument ${record.instrumentKind}`,
          `  paymentIntegratorTransactionId: ${record.paymentIntegratorTransactionId}`,
          `  answered: ${JSON.stringify(record.response)}`,
          ...(record.outcome ? [`  outcome: ${JSON.stringify(record.outcome)}`] : []),
          ...(n
            ? [
                `  notification: requestId ${n.requestId}, ${n.state}${n.enqueued ? "" : " (not enqueued yet)"}`,
                `  captureResult: ${JSON.stringify(n.captureResult)}`,
                `  deliveries (${n.attempts.length}):`,
                ...n.attempts.map((a) => `    ${new Date(a.atMs).toISOString()}  ${a.outcome}`),
              ]
            : []),
        ].join("\n"),
      );
      return 0;
    }
    // captures renotify
    if (!record.notification)
      throw new UsageError(
        `capture ${captureRequestId} owes no notification (${record.method}, ${record.state})`,
        1,
      );
    await store.reopenNotification(key);
    await target.sqs.send(
      new SendMessageCommand({
        QueueUrl: await target.queueUrl(),
        MessageBody: JSON.stringify({ paymentIntegratorAccountId: piaid, captureRequestId }),
      }),
    );
    console.log(
      `enqueued the stored notification of ${captureRequestId} again (requestId ${record.notification.requestId}, ${record.notification.captureResult.captureResultCode})`,
    );
    return 0;
  } finally {
    target.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error & { code?: number }) => {
    console.error(error.message);
    process.exit(error instanceof UsageError ? error.code : 1);
  },
);
