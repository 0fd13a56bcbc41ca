import { enqueueNotification, expireCapture, type OutcomeDeps } from "./capture-outcome-service.ts";
import type { CaptureRecord } from "./capture-record.ts";
import type { DueOptions, DuePage } from "./capture-service.ts";
import { enqueueRefundNotification, type RefundRecord, type RefundStore } from "./refund-service.ts";

export interface SweepOptions {
  /** No new page is taken past this instant (the invocation's deadline, less time to finish a page). */
  deadlineMs?: number;
  pageSize?: number;
  /** Records acted on at once. */
  concurrency?: number;
  /** Told, once per pass, how long the oldest due record has waited (0 when none is due). */
  onOldestDue?: (ageSeconds: number) => void;
}

/** Without a deadline of its own (the local stack's timer) a pass stops taking pages after this long. */
const DEFAULT_SWEEP_BUDGET_MS = 50_000;

export interface SweepDeps extends OutcomeDeps {
  /** Refunds whose refundResultNotification nobody is known to have enqueued; absent: captures only. */
  refunds?: Pick<RefundStore, "due" | "markEnqueued">;
}

/** One kind of record the sweeper looks after: how to page through what is due, what to do with each. */
interface Due<R> {
  due: (options: DueOptions) => Promise<DuePage<R>>;
  act: (record: R) => Promise<void>;
}

/**
 * The sweeper's pass over every record that owes Google a message: expire captures past their deadline,
 * enqueue notifications (of captures and refunds) nobody enqueued. It drains each sparse index page by
 * page until it is empty or the deadline comes; each page is taken evenly from every shard, so a busy
 * shard cannot starve the others.
 */
export async function sweep(
  deps: SweepDeps,
  options: SweepOptions = {},
): Promise<{ expired: number; enqueued: number }> {
  const now = deps.now();
  const deadlineMs = options.deadlineMs ?? now + DEFAULT_SWEEP_BUDGET_MS;
  const counts = { expired: 0, enqueued: 0 };
  const captures: Due<CaptureRecord> = {
    due: (o) => deps.store.due(now, o),
    act: async (record) => {
      if (record.state === "PENDING") {
        if (await expireCapture(deps, record, now)) counts.expired += 1;
      } else if (await enqueueNotification(deps, record)) counts.enqueued += 1;
    },
  };
  const refunds = deps.refunds;
  const kinds: Due<unknown>[] = [captures as Due<unknown>];
  if (refunds) {
    const owed: Due<RefundRecord> = {
      due: (o) => refunds.due(now, o),
      act: async (record) => {
        if (await enqueueRefundNotification({ queue: deps.queue, store: refunds }, record))
          counts.enqueued += 1;
      },
    };
    kinds.push(owed as Due<unknown>);
  }
  let oldestDueAtMs: number | undefined;
  for (const kind of kinds) {
    let next: unknown;
    for (let first = true; first || (next !== undefined && deps.now() < deadlineMs); first = false) {
      const page = await kind.due({ pageSize: options.pageSize ?? 100, next, deadlineMs });
      if (first && page.oldestDueAtMs !== undefined)
        oldestDueAtMs = Math.min(oldestDueAtMs ?? now, page.oldestDueAtMs);
      await eachConcurrently(page.records, options.concurrency ?? 8, kind.act);
      next = page.next;
    }
  }
  options.onOldestDue?.(
    oldestDueAtMs === undefined ? 0 : Math.max(0, Math.round((now - oldestDueAtMs) / 1000)),
  );
  return counts;
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
async function eachConcurrently<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await work(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
