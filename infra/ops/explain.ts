/**
 * A capture's times and, in one line, where it stands: what it waits for, what happens next and
 * when, or what an operator should do. Plain functions over the record, for `captures show/list`.
 */
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import { retryDelaySeconds } from "../../shared/domain/notifier.ts";
import { ago, iso } from "./command.ts";

/** The delivery schedule the explanation assumes (the deployed defaults unless told otherwise). */
export interface Schedule {
  maxReceiveCount: number;
  backoffBaseSeconds: number;
  backoffCapSeconds: number;
  sweepEverySeconds: number;
  enqueueGraceSeconds: number;
}

export interface Timeline {
  createdAtMs: number;
  deadlineMs?: number;
  /** When the result was fixed: at once for a synchronous capture or an immediate decline. */
  decidedAtMs?: number;
  /** When Google first answered SUCCESS to its notification. */
  notifiedAtMs?: number;
}

export function timeline(r: CaptureRecord): Timeline {
  const n = r.notification;
  const decidedAtMs = r.state === "PENDING" ? undefined : (n?.decidedAtMs ?? r.createdAtMs);
  const notifiedAtMs = n?.attempts.find((a) => a.outcome === "SUCCESS")?.atMs;
  return {
    createdAtMs: r.createdAtMs,
    ...(r.deadlineMs !== undefined && { deadlineMs: r.deadlineMs }),
    ...(decidedAtMs !== undefined && { decidedAtMs }),
    ...(notifiedAtMs !== undefined && { notifiedAtMs }),
  };
}

const inOrAgo = (ms: number, now: number) => (ms >= now ? `in ${ago(ms - now)}` : `${ago(now - ms)} ago`);

/** One line: where the record stands and what happens next. */
export function explain(r: CaptureRecord, now: number, s: Schedule): string {
  const id = `${r.paymentIntegratorAccountId} ${r.requestId}`;
  if (r.state === "PENDING") {
    const deadline = r.deadlineMs ?? now;
    if (deadline > now)
      return `waiting for the outcome from the integrator's systems; if none comes it expires at ${iso(deadline)} (${inOrAgo(deadline, now)}) and Google is told CAPTURE_REQUEST_EXPIRED`;
    return `past its deadline (${ago(now - deadline)} ago) and not yet expired: the sweeper (every ${s.sweepEverySeconds} s) expires it on its next run; if this lasts, the sweeper is failing (alarm sweeper-errors)`;
  }
  const n = r.notification;
  if (!n) return `final when answered (${r.response.result}); no notification is owed`;
  const last = n.attempts.at(-1);
  if (n.state === "NOTIFIED") {
    const at = timeline(r).notifiedAtMs ?? last?.atMs ?? now;
    return `delivered: Google answered SUCCESS at ${iso(at)} (${n.attempts.length} ${n.attempts.length === 1 ? "try" : "tries"}); nothing owed`;
  }
  if (!n.enqueued) {
    const due = n.decidedAtMs + s.enqueueGraceSeconds * 1000;
    if (due > now)
      return `outcome recorded ${ago(now - n.decidedAtMs)} ago; its writer is putting the notification on the queue, or the sweeper will after ${iso(due)}`;
    return `owed but never queued: the sweeper should have queued it at ${iso(due)} (${ago(now - due)} ago); check alarm sweeper-errors, or \`captures renotify ${id}\` queues it now`;
  }
  if (!last)
    return `on the queue since ${iso(n.decidedAtMs)}, not tried yet: the notifier takes it within seconds; if not, check alarm notifier-errors and the queue's oldest-message age`;
  // The receive count restarts when a message is replayed from the DLQ: count tries modulo one round.
  const round = ((n.attempts.length - 1) % s.maxReceiveCount) + 1;
  if (round >= s.maxReceiveCount)
    return `try ${n.attempts.length} failed (${last.outcome}) at ${iso(last.atMs)}, the last of ${s.maxReceiveCount} for its message: it is in the DLQ; fix the cause, then \`dlq replay --capture-request-id ${r.requestId}\` or \`recover\``;
  const earliest =
    last.atMs + retryDelaySeconds(round, s.backoffBaseSeconds, s.backoffCapSeconds, () => 0) * 1000;
  const latest =
    last.atMs + retryDelaySeconds(round, s.backoffBaseSeconds, s.backoffCapSeconds, () => 1) * 1000;
  return `try ${n.attempts.length} failed (${last.outcome}) at ${iso(last.atMs)}; next try between ${iso(earliest)} and ${iso(latest)} (${inOrAgo(earliest, now)}), ${s.maxReceiveCount - round} left before the DLQ`;
}
