/**
 * Capture records for operators: list by state and time, show one with its times and where it
 * stands, send its stored notification again, and recover every owed notification in a window.
 */
import {
  operatorNotes,
  type ScanBounds,
  type ScanResult,
  scanCaptures,
  sweepIndexCaptures,
} from "../../shared/adapters/dynamodb/capture-queries.ts";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { sqsNotificationQueue } from "../../shared/adapters/sqs/notification-queue.ts";
import { enqueueNotification } from "../../shared/domain/capture-outcome-service.ts";
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import {
  type Command,
  type Context,
  durationOption,
  EXIT,
  instantOption,
  integerOption,
  iso,
  OpsError,
  stringOption,
  usage,
  type Values,
} from "./command.ts";
import { explain, timeline } from "./explain.ts";

/** Where a record stands: PENDING, or DECIDED with its notification OWED, NOTIFIED or none owed. */
type Standing = "PENDING" | "OWED" | "NOTIFIED" | "DECIDED";
const STATES = ["PENDING", "DECIDED", "OWED", "NOTIFIED"] as const;

const standing = (r: CaptureRecord): Standing =>
  r.state === "PENDING" ? "PENDING" : (r.notification?.state ?? "DECIDED");

function inState(r: CaptureRecord, state: (typeof STATES)[number] | undefined): boolean {
  if (state === undefined) return true;
  if (state === "DECIDED") return r.state === "DECIDED";
  return standing(r) === state;
}

/** A record as JSON (amounts stay exact: int64 micros in a string). */
const recordJson = (r: CaptureRecord) => ({ ...r, amount: r.amount.toString() });

const BOUND_OPTIONS = {
  "max-items": { type: "string" as const, description: "stop after this many matches (default 100)" },
  "max-pages": { type: "string" as const, description: "stop after this many 1 MB scan pages (default 20)" },
};
const bounds = (v: Values, maxItems: number) => ({
  maxItems:
    v["max-items"] === undefined ? maxItems : integerOption("max-items", String(v["max-items"]), 1, 100_000),
  maxPages: v["max-pages"] === undefined ? 20 : integerOption("max-pages", String(v["max-pages"]), 1, 10_000),
});

function scanLine(scan: Pick<ScanResult, "scanned" | "pages" | "complete">): string {
  return `scanned ${scan.scanned} item(s) in ${scan.pages} page(s)${scan.complete ? "" : "; stopped at --max-items/--max-pages before the end of the table: narrow the window or raise the bound"}`;
}

const list: Command<{
  state: (typeof STATES)[number] | undefined;
  match: (r: CaptureRecord) => boolean;
  bounds: ScanBounds;
  now: number;
}> = {
  name: "captures list",
  synopsis:
    "[--state PENDING|DECIDED|OWED|NOTIFIED] [--since 2h|ISO] [--until ISO] [--owed-longer-than 10m] [--expiring-within 5m] [--piaid P] [--max-items N] [--max-pages N]",
  summary: "captures by state and creation time, each with where it stands",
  help: `Lists captures created between --since (default 24h ago) and --until (default now) in a state:
PENDING (waiting for an outcome), DECIDED (any decided), OWED (a notification not yet delivered),
NOTIFIED (delivered). --owed-longer-than 10m: notifications owed for longer than that since the
outcome; --expiring-within 5m: PENDING captures whose deadline is that close.
PENDING reads the sweeper's sparse index (the live working set, no scan). Every other state scans
the captures table page by page (eventually consistent, about 0.5 read units per 4 KB read, i.e.
roughly 0.2 per record): bounded by --max-items (default 100) and --max-pages (default 20 pages of
1 MB), and it says when a bound stopped it.`,
  options: {
    state: { type: "string", description: "PENDING, DECIDED, OWED or NOTIFIED" },
    since: { type: "string", description: "created at or after (ISO 8601, or 2h for 2 hours ago)" },
    until: { type: "string", description: "created at or before" },
    "owed-longer-than": { type: "string", description: "notification owed for longer than (10m)" },
    "expiring-within": { type: "string", description: "PENDING with a deadline this close (5m)" },
    piaid: { type: "string", description: "only this PIAID" },
    ...BOUND_OPTIONS,
  },
  check(v, _args, now) {
    const stateText = stringOption(v, "state")?.toUpperCase();
    if (stateText !== undefined && !(STATES as readonly string[]).includes(stateText))
      throw usage(`--state takes ${STATES.join(", ")}, not "${v.state}".`);
    let state = stateText as (typeof STATES)[number] | undefined;
    const since = instantOption("since", stringOption(v, "since") ?? "24h", now);
    const until = v.until === undefined ? now : instantOption("until", String(v.until), now);
    if (since > until) throw usage("--since is after --until.");
    const owedFor =
      v["owed-longer-than"] === undefined
        ? undefined
        : durationOption("owed-longer-than", String(v["owed-longer-than"]));
    const expiringIn =
      v["expiring-within"] === undefined
        ? undefined
        : durationOption("expiring-within", String(v["expiring-within"]));
    if (owedFor !== undefined) {
      if (state !== undefined && state !== "OWED") throw usage("--owed-longer-than goes with --state OWED.");
      state = "OWED";
    }
    if (expiringIn !== undefined) {
      if (state !== undefined && state !== "PENDING")
        throw usage("--expiring-within goes with --state PENDING.");
      state = "PENDING";
    }
    const piaid = stringOption(v, "piaid");
    const b = bounds(v, 100);
    const match = (r: CaptureRecord) =>
      r.createdAtMs >= since &&
      r.createdAtMs <= until &&
      (piaid === undefined || r.paymentIntegratorAccountId === piaid) &&
      inState(r, state) &&
      (owedFor === undefined || now - r.notification!.decidedAtMs >= owedFor) &&
      (expiringIn === undefined || (r.deadlineMs ?? 0) - now <= expiringIn);
    return { state, match, bounds: b, now };
  },
  async run(ctx, { state, match, bounds: b, now }) {
    const { db, tables } = ctx.target;
    let records: CaptureRecord[];
    let source: string;
    let complete: boolean;
    if (state === "PENDING") {
      const found = await sweepIndexCaptures(db, tables.captures, 10_000);
      records = found.records.filter(match).slice(0, b.maxItems);
      complete = found.complete && records.length < b.maxItems;
      source = "read from the sweep index, no scan";
    } else {
      const scan = await scanCaptures(db, tables.captures, match, b);
      ({ records, complete } = scan);
      source = scanLine(scan);
    }
    records.sort((a, c) => a.createdAtMs - c.createdAtMs);
    ctx.print("PIAID\tcaptureRequestId\tstate\tcreated\tresult\twhere it stands");
    const rows = records.map((r) => ({
      paymentIntegratorAccountId: r.paymentIntegratorAccountId,
      captureRequestId: r.requestId,
      state: standing(r),
      ...timeline(r),
      result: r.notification?.captureResult.captureResultCode ?? r.response.result,
      status: explain(r, now, ctx.target.schedule),
    }));
    for (const r of rows)
      ctx.print(
        `${r.paymentIntegratorAccountId}\t${r.captureRequestId}\t${r.state}\t${iso(r.createdAtMs)}\t${r.result}\t${r.status}`,
      );
    ctx.print(`${rows.length} capture(s) (${source})`);
    ctx.result({ captures: rows, complete, source });
    return EXIT.OK;
  },
};

async function recordOf(
  ctx: Context,
): Promise<{ key: string; record: CaptureRecord; store: DynamoCaptureStore }> {
  const [piaid, captureRequestId] = ctx.args as [string, string];
  const key = idempotencyKey(piaid, captureRequestId);
  const store = new DynamoCaptureStore(ctx.target.db, ctx.target.tables);
  const record = await store.get(key);
  if (!record) throw new OpsError(`no capture ${captureRequestId} for ${piaid}`);
  return { key, record, store };
}

const show: Command = {
  name: "captures show",
  synopsis: "<PIAID> <captureRequestId>",
  summary: "one capture: its times, where it stands and why, every delivery try",
  help: `Prints the capture record: method, state, amount, result, outcome; when it was created, decided
and notified; one line on where it stands (what it waits for, which try failed how, what happens
next and when); the notification owed, every delivery try, and the operators' notes.`,
  args: ["PIAID", "captureRequestId"],
  async run(ctx) {
    const { key, record } = await recordOf(ctx);
    const notes = await operatorNotes(ctx.target.db, ctx.target.tables.captures, key);
    const now = Date.now();
    const t = timeline(record);
    const status = explain(record, now, ctx.target.schedule);
    const n = record.notification;
    ctx.print(
      [
        `capture ${record.requestId} (${record.paymentIntegratorAccountId}), ${record.method}`,
        `  state: ${record.state}${record.deadlineMs ? `, deadline ${iso(record.deadlineMs)}` : ""}`,
        `  times: created ${iso(t.createdAtMs)}, decided ${iso(t.decidedAtMs)}, notified ${iso(t.notifiedAtMs)}`,
        `  where it stands: ${status}`,
        `  amount: ${record.amount} micros ${record.currencyCode}, account ${record.accountId}, instrument ${record.instrumentKind}`,
        `  paymentIntegratorTransactionId: ${record.paymentIntegratorTransactionId}`,
        `  answered: ${JSON.stringify(record.response)}`,
        ...(record.outcome ? [`  outcome: ${JSON.stringify(record.outcome)}`] : []),
        ...(n
          ? [
              `  notification: requestId ${n.requestId}, ${n.state}${n.enqueued ? "" : " (not enqueued yet)"}`,
              `  captureResult: ${JSON.stringify(n.captureResult)}`,
              `  deliveries (${n.attempts.length}):`,
              ...n.attempts.map((a) => `    ${iso(a.atMs)}  ${a.outcome}`),
            ]
          : []),
        ...(notes.length > 0
          ? [
              `  operator notes (${notes.length}):`,
              ...notes.map((o) => `    ${iso(o.atMs)}  ${o.action}: ${o.reason}`),
            ]
          : []),
      ].join("\n"),
    );
    ctx.result({ capture: recordJson(record), timeline: t, status, operatorNotes: notes });
    return EXIT.OK;
  },
};

/** Puts a record's stored notification on the queue and notes it, as the service does (identifiers only). */
async function enqueue(ctx: Context, store: DynamoCaptureStore, r: CaptureRecord) {
  const queue = sqsNotificationQueue(ctx.target.sqs, ctx.target.queues.notifications);
  if (!(await enqueueNotification({ queue, store }, r)))
    throw new OpsError(`the notifications queue refused the message of ${r.requestId}`);
}

const renotify: Command = {
  name: "captures renotify",
  synopsis: "<PIAID> <captureRequestId>",
  summary: "send the stored notification again (same result, same requestId)",
  help: `Enqueues the stored notification again (the stored result and requestId, never a new one), even
if it was delivered before: the record owes it again until Google answers SUCCESS.`,
  args: ["PIAID", "captureRequestId"],
  changes: true,
  async run(ctx) {
    const { key, record, store } = await recordOf(ctx);
    const n = record.notification;
    if (!n)
      throw new OpsError(
        `capture ${record.requestId} owes no notification (${record.method}, ${record.state})`,
      );
    await ctx.confirm(`send the notification of capture ${record.requestId} again`);
    await store.reopenNotification(key);
    await enqueue(ctx, store, record);
    ctx.print(
      `enqueued the stored notification of ${record.requestId} again (requestId ${n.requestId}, ${n.captureResult.captureResultCode})`,
    );
    ctx.result({
      enqueued: {
        paymentIntegratorAccountId: record.paymentIntegratorAccountId,
        captureRequestId: record.requestId,
        requestId: n.requestId,
      },
    });
    return EXIT.OK;
  },
};

const recover: Command<{
  since: number;
  until: number;
  piaid: string | undefined;
  dryRun: boolean;
  bounds: ScanBounds;
}> = {
  name: "recover",
  synopsis: "--since 2h|ISO [--until ISO] [--piaid P] [--dry-run] [--max-items N] [--max-pages N]",
  summary: "re-enqueue every notification owed and not yet delivered whose outcome was decided in a window",
  help: `For every capture whose outcome was decided between --since and --until (default now) and whose
notification Google has not acknowledged, puts the stored notification on the queue again; the
ones already delivered are skipped and counted. Use it after an outage, once Google answers again:
it reaches what sits in the DLQ, what is still retrying and what was never queued. A notification
that also has a message elsewhere is only sent once more with the same requestId and result.
It scans the captures table (see \`captures list\`): --max-pages (default 20) bounds the scan and
--max-items (default 1000) the number re-enqueued; if a bound stops it first it says so and exits 1
(running it again is safe). --dry-run lists what it would re-enqueue.`,
  options: {
    since: { type: "string", description: "decided at or after (required)" },
    until: { type: "string", description: "decided at or before (default now)" },
    piaid: { type: "string", description: "only this PIAID" },
    "dry-run": { type: "boolean", description: "list what would be re-enqueued; change nothing" },
    ...BOUND_OPTIONS,
  },
  changes: true,
  check(v, _args, now) {
    if (typeof v.since !== "string")
      throw usage("recover needs --since (an ISO 8601 time, or 2h for 2 hours ago).");
    const since = instantOption("since", v.since, now);
    const until = v.until === undefined ? now : instantOption("until", String(v.until), now);
    if (since > until) throw usage("--since is after --until.");
    return {
      since,
      until,
      piaid: stringOption(v, "piaid"),
      dryRun: v["dry-run"] === true,
      bounds: bounds(v, 1000),
    };
  },
  async run(ctx, { since, until, piaid, dryRun, bounds: b }) {
    let skipped = 0;
    const scan = await scanCaptures(
      ctx.target.db,
      ctx.target.tables.captures,
      (r) => {
        const n = r.notification;
        if (!n || n.decidedAtMs < since || n.decidedAtMs > until) return false;
        if (piaid !== undefined && r.paymentIntegratorAccountId !== piaid) return false;
        if (n.state === "NOTIFIED") skipped += 1;
        return n.state === "OWED";
      },
      b,
    );
    const owed = scan.records;
    if (!dryRun && owed.length > 0) await ctx.confirm(`re-enqueue ${owed.length} owed notification(s)`);
    const store = new DynamoCaptureStore(ctx.target.db, ctx.target.tables);
    for (const r of owed) {
      if (!dryRun) await enqueue(ctx, store, r);
      ctx.print(
        `${dryRun ? "would re-enqueue" : "re-enqueued"} ${r.paymentIntegratorAccountId} ${r.requestId} (${r.notification!.captureResult.captureResultCode}, ${r.notification!.attempts.length} tries so far)`,
      );
    }
    ctx.print(
      `${dryRun ? "dry run: would re-enqueue" : "re-enqueued"} ${owed.length} owed notification(s); skipped ${skipped} already delivered; ${scanLine(scan)}`,
    );
    ctx.result({
      dryRun,
      reenqueued: owed.map((r) => ({
        paymentIntegratorAccountId: r.paymentIntegratorAccountId,
        captureRequestId: r.requestId,
      })),
      skippedDelivered: skipped,
      scanned: scan.scanned,
      pages: scan.pages,
      complete: scan.complete,
    });
    return scan.complete ? EXIT.OK : EXIT.FAILED;
  },
};

export const captureCommands = [list, show, renotify, recover] as Command<unknown>[];
