import type { EventKind, StatementEvent, StatementSummary } from "../protocol/remittance.ts";
import type { CaptureRecord } from "./capture-record.ts";
import { idempotencyKey } from "./idempotency.ts";
import { periodsAt } from "./periods.ts";
import type { RefundRecord } from "./refund-service.ts";
import { capturedMoney } from "./refund-service.ts";

/**
 * Settlement rules, plain data: when a record of ours moved money, which billing period that falls
 * in, and how a statement's events are matched against our records.
 */

/** A money movement of ours as the statement should show it: a SUCCESS capture or a SUCCESS refund. */
export interface Movement {
  kind: "CAPTURE" | "REFUND";
  /** Our record key (PIAID#requestId) and Google's requestId. */
  key: string;
  requestId: string;
  /** Our paymentIntegratorTransactionId or paymentIntegratorRefundId. */
  ourId: string;
  amount: bigint;
  currencyCode: string;
  movedAtMs: number;
}

/** When a capture moved money: a synchronous SUCCESS when it was recorded, an asynchronous one when its outcome was. */
export function captureMovedAt(r: CaptureRecord): number | undefined {
  if (!capturedMoney(r)) return undefined;
  return r.method === "capture" ? r.createdAtMs : (r.notification?.decidedAtMs ?? r.createdAtMs);
}

export const refundMovedAt = (r: RefundRecord): number | undefined =>
  r.response.result === "SUCCESS" ? r.createdAtMs : undefined;

export const captureMovement = (r: CaptureRecord, movedAtMs: number): Movement => ({
  kind: "CAPTURE",
  key: r.key,
  requestId: r.requestId,
  ourId: r.paymentIntegratorTransactionId,
  amount: r.amount,
  currencyCode: r.currencyCode,
  movedAtMs,
});

export const refundMovement = (r: RefundRecord, movedAtMs: number): Movement => ({
  kind: "REFUND",
  key: r.key,
  requestId: r.requestId,
  ourId: r.paymentIntegratorRefundId,
  amount: r.amount,
  currencyCode: r.currencyCode,
  movedAtMs,
});

/** Storage bucket of a movement (the settlement index's partition): the PIAID and the UTC day it moved on. */
export const settlementBucket = (piaid: string, movedAtMs: number) =>
  `${piaid}#${new Date(movedAtMs).toISOString().slice(0, 10)}`;

/** The UTC-day buckets a window [fromMs, toMs) touches, in order. */
export function bucketsOf(piaid: string, fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let day = Math.floor(fromMs / 86_400_000) * 86_400_000; day < toMs; day += 86_400_000) {
    out.push(settlementBucket(piaid, day));
  }
  return out;
}

/** 00:00 of a calendar day (YYYY-MM-DD) in a time zone, as an instant. */
export function startOfDay(day: string, timeZone: string): number {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d);
  let t = wall;
  // Two rounds settle the zone's offset at that instant (a DST change on the day included).
  for (let i = 0; i < 3; i++) t = wall - offsetAt(t, timeZone);
  return t;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
function offsetAt(t: number, timeZone: string): number {
  let f = offsetFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    offsetFormatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
  return asUtc - Math.floor(t / 1000) * 1000;
}

const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/**
 * The instants a statement covers: whole calendar days in the contract's time zone, from the day of
 * startDate to the day of endDate (an endDate exactly at midnight ends the period there). A movement
 * belongs to the day on which it moved: 23:59:59.999 local is that day, 00:00:00.000 the next.
 */
export function billingWindow(startDate: string, endDate: string, timeZone: string) {
  const fromMs = startOfDay(periodsAt(Number(startDate), timeZone).day, timeZone);
  const endDay = periodsAt(Number(endDate), timeZone).day;
  const endMidnight = startOfDay(endDay, timeZone);
  const toMs = endMidnight === Number(endDate) ? endMidnight : startOfDay(nextDay(endDay), timeZone);
  return { fromMs, toMs: Math.max(toMs, fromMs) };
}

export type DiscrepancyType =
  /** Google has an event we have no money movement for. */
  | "GOOGLE_ONLY"
  /** Our SUCCESS movement in the period that the statement lacks. */
  | "OURS_ONLY"
  /** Both have it, but the amount, currency or our id differ. */
  | "MISMATCH"
  /** Google's event matches a movement of ours in another billing period. */
  | "OUTSIDE_PERIOD"
  /** The same event twice in the statement. */
  | "DUPLICATE";

export interface Discrepancy {
  type: DiscrepancyType;
  kind: EventKind;
  /** Google's requestId of the capture or refund (ours: the requestId Google sent us). */
  requestId: string;
  /** Our transaction or refund id, where we have the movement. */
  ourId?: string;
  /** Google's signed charge (owed to Google positive) and ours, micros. */
  googleCharge?: string;
  ourCharge?: string;
  why: string;
}

export interface Totals {
  /** Google's summary.totalDueByIntegrator. */
  googleTotalDue: string;
  /** Σ of Google's events: charges, fees, both. */
  googleCharges: string;
  googleFees: string;
  googleEventsTotal: string;
  /** Σ of our SUCCESS movements in the period (captures positive, refunds negative), and with Google's fees. */
  ourCharges: string;
  ourTotalDue: string;
}

export interface Reconciliation {
  /** Exact: no discrepancy and the totals agree both ways, to the micro. */
  exact: boolean;
  currencyCode: string;
  window: { fromMs: number; toMs: number };
  events: number;
  matched: number;
  discrepancyCount: number;
  /** Every discrepancy, in a stable order (by type, kind, requestId). */
  discrepancies: Discrepancy[];
  totals: Totals;
  /** What is wrong with the totals, when they disagree. */
  totalsProblems: string[];
}

/** The signed charge the statement should show for a movement of ours. */
export const ourCharge = (m: Movement) => (m.kind === "CAPTURE" ? m.amount : -m.amount);

/**
 * Matches Google's events with our movements. `inPeriod`: our SUCCESS movements in the billing window;
 * `byKey`: our movements found by key for events not among them (outside the period), absent when none.
 */
export function reconcile(input: {
  piaid: string;
  summary: StatementSummary;
  window: { fromMs: number; toMs: number };
  events: StatementEvent[];
  inPeriod: Movement[];
  byKey: ReadonlyMap<string, Movement>;
}): Reconciliation {
  const { piaid, summary, window, events } = input;
  const ours = new Map(input.inPeriod.map((m) => [`${m.kind}|${m.key}`, m]));
  const seen = new Set<string>();
  const discrepancies: Discrepancy[] = [];
  let matched = 0;
  let googleCharges = 0n;
  let googleFees = 0n;
  for (const e of events) {
    googleCharges += e.eventCharge;
    googleFees += e.eventFee;
    const googleCharge = e.eventCharge.toString();
    const base = { kind: e.kind, requestId: e.eventRequestId, googleCharge };
    if (e.kind !== "CAPTURE" && e.kind !== "REFUND") {
      discrepancies.push({ ...base, type: "GOOGLE_ONLY", why: "this kind of event is not reconciled here" });
      continue;
    }
    const id = `${e.kind}|${idempotencyKey(piaid, e.eventRequestId)}`;
    if (seen.has(id)) {
      discrepancies.push({
        ...base,
        type: "DUPLICATE",
        why: "the statement lists this event more than once",
      });
      continue;
    }
    seen.add(id);
    const inPeriod = ours.get(id);
    const m = inPeriod ?? input.byKey.get(id);
    if (!m) {
      discrepancies.push({
        ...base,
        type: "GOOGLE_ONLY",
        why: "no SUCCESS movement of ours has this requestId",
      });
      continue;
    }
    const mine = { ourId: m.ourId, ourCharge: ourCharge(m).toString() };
    if (e.paymentIntegratorEventId !== undefined && e.paymentIntegratorEventId !== m.ourId) {
      discrepancies.push({
        ...base,
        ...mine,
        type: "MISMATCH",
        why: "paymentIntegratorEventId is not our id",
      });
    } else if (m.currencyCode !== summary.currencyCode) {
      discrepancies.push({ ...base, ...mine, type: "MISMATCH", why: "our movement is in another currency" });
    } else if (e.eventCharge !== ourCharge(m)) {
      discrepancies.push({ ...base, ...mine, type: "MISMATCH", why: "amounts differ" });
    } else if (!inPeriod) {
      discrepancies.push({
        ...base,
        ...mine,
        type: "OUTSIDE_PERIOD",
        why: "our movement is in another period",
      });
    } else {
      matched += 1;
    }
  }
  let ourCharges = 0n;
  for (const [id, m] of ours) {
    if (m.currencyCode === summary.currencyCode) ourCharges += ourCharge(m);
    if (!seen.has(id)) {
      discrepancies.push({
        type: "OURS_ONLY",
        kind: m.kind,
        requestId: m.requestId,
        ourId: m.ourId,
        ourCharge: ourCharge(m).toString(),
        why: "the statement lacks this SUCCESS movement of ours",
      });
    }
  }
  const googleEventsTotal = googleCharges + googleFees;
  const ourTotalDue = ourCharges + googleFees;
  const totalsProblems: string[] = [];
  if (googleEventsTotal !== summary.totalDueByIntegrator) {
    totalsProblems.push("Google's totalDueByIntegrator is not the sum of its own events");
  }
  if (ourTotalDue !== summary.totalDueByIntegrator) {
    totalsProblems.push("Google's totalDueByIntegrator is not ours (our charges plus Google's fees)");
  }
  discrepancies.sort((a, b) =>
    `${a.type}|${a.kind}|${a.requestId}` < `${b.type}|${b.kind}|${b.requestId}` ? -1 : 1,
  );
  return {
    exact: discrepancies.length === 0 && totalsProblems.length === 0,
    currencyCode: summary.currencyCode,
    window,
    events: events.length,
    matched,
    discrepancyCount: discrepancies.length,
    discrepancies,
    totals: {
      googleTotalDue: summary.totalDueByIntegrator.toString(),
      googleCharges: googleCharges.toString(),
      googleFees: googleFees.toString(),
      googleEventsTotal: googleEventsTotal.toString(),
      ourCharges: ourCharges.toString(),
      ourTotalDue: ourTotalDue.toString(),
    },
    totalsProblems,
  };
}
