/**
 * Operator commands for remittance statements: `statements list|show|reconcile|accept|export`.
 * Each is a function over the reconciler's dependencies (the statement store and the Google caller),
 * returning lines for people and one JSON value for `--json`; the ops CLI registers them.
 */
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import {
  acceptStatement,
  fetchAllEvents,
  type ReconcilerDeps,
  reconcileEvents,
  reconcileStatement,
} from "../../shared/domain/reconciler.ts";
import type { Discrepancy, Reconciliation } from "../../shared/domain/reconciliation.ts";
import type { StatementRecord, StatementState } from "../../shared/domain/statement-service.ts";

export interface OpsOutput {
  /** Exit code: 0 done, 1 failed or refused. */
  exitCode: number;
  lines: string[];
  json: unknown;
}

export const STATEMENTS_HELP = `usage: npm run ops -- statements <list|show|reconcile|accept|export> [options] [--json]

  statements list [--state S]                         statements, newest first (S: RECEIVED, RECONCILED, DISCREPANCIES, DETAILS_REFUSED, ACCEPTED)
  statements show <PIAID> <statementId>               summary, totals both ways, every discrepancy, what is due by when, the memo line
  statements reconcile <PIAID> <statementId>          run the reconciliation again now (e.g. after a late capture arrived)
  statements accept <PIAID> <statementId> [--override --reason TEXT]
                                                      accept an exactly reconciled statement; one that is not only with --override and a reason (recorded with who)
  statements export <PIAID> <statementId> [--csv]     every line of the reconciliation, for finance (JSON, or CSV)`;

const MICROS_PER_UNIT = 1_000_000n;
/** Micros as a decimal amount (6 places, trailing zeros kept to 2), never through a float. */
export function formatAmount(micros: string | bigint): string {
  const m = BigInt(micros);
  const sign = m < 0n ? "-" : "";
  const abs = m < 0n ? -m : m;
  const fraction = (abs % MICROS_PER_UNIT)
    .toString()
    .padStart(6, "0")
    .replace(/0{1,4}$/, "");
  return `${sign}${abs / MICROS_PER_UNIT}.${fraction}`;
}

const date = (ms: string | number) => new Date(Number(ms)).toISOString();

const summaryJson = (s: StatementRecord) => ({
  paymentIntegratorAccountId: s.paymentIntegratorAccountId,
  statementId: s.statementId,
  paymentIntegratorStatementId: s.paymentIntegratorStatementId,
  state: s.state,
  statementDate: date(s.summary.statementDate),
  billingPeriod: { start: date(s.summary.startDate), end: date(s.summary.endDate) },
  dateDue: date(s.summary.dateDue),
  currencyCode: s.summary.currencyCode,
  totalDueByIntegrator: s.summary.totalDueByIntegrator.toString(),
  memoLineId: s.summary.memoLineId,
  receivedAt: date(s.receivedAtMs),
  ...(s.reconciledAtMs !== undefined && { reconciledAt: date(s.reconciledAtMs) }),
  ...(s.refusal && { refusal: { at: date(s.refusal.atMs), reason: s.refusal.reason } }),
  acceptance: s.acceptance,
});

export async function listStatements(
  deps: Pick<ReconcilerDeps, "store">,
  state?: StatementState,
): Promise<OpsOutput> {
  const all = await deps.store.list(state);
  const rows = all.map((s) => ({
    ...summaryJson(s),
    discrepancies: s.reconciliation?.discrepancyCount ?? null,
  }));
  return {
    exitCode: 0,
    json: { statements: rows },
    lines:
      rows.length === 0
        ? ["no statements"]
        : rows.map(
            (r) =>
              `${r.paymentIntegratorAccountId} ${r.statementId}  ${r.state}  due ${formatAmount(r.totalDueByIntegrator)} ${r.currencyCode} by ${r.dateDue}${r.discrepancies ? `  ${r.discrepancies} discrepancies` : ""}`,
          ),
  };
}

async function find(deps: Pick<ReconcilerDeps, "store">, piaid: string, statementId: string) {
  return deps.store.get(idempotencyKey(piaid, statementId));
}
const notFound = (piaid: string, statementId: string): OpsOutput => ({
  exitCode: 1,
  json: { error: "no such statement", paymentIntegratorAccountId: piaid, statementId },
  lines: [`no statement ${statementId} for ${piaid}`],
});

const discrepancyLine = (d: Discrepancy) =>
  `  ${d.type.padEnd(14)} ${d.kind.padEnd(7)} requestId ${d.requestId}${d.ourId ? ` (ours ${d.ourId})` : ""}${d.googleCharge !== undefined ? `  Google ${formatAmount(d.googleCharge)}` : ""}${d.ourCharge !== undefined ? `  ours ${formatAmount(d.ourCharge)}` : ""}  ${d.why}`;

function reconciliationLines(r: Reconciliation, currency: string): string[] {
  const t = r.totals;
  return [
    `reconciliation: ${r.exact ? "EXACT" : "NOT EXACT"}  ${r.events} events, ${r.matched} matched, ${r.discrepancyCount} discrepancies`,
    `  Google: total due ${formatAmount(t.googleTotalDue)} ${currency}; its events: charges ${formatAmount(t.googleCharges)} + fees ${formatAmount(t.googleFees)} = ${formatAmount(t.googleEventsTotal)}`,
    `  ours:   charges ${formatAmount(t.ourCharges)} + Google's fees ${formatAmount(t.googleFees)} = ${formatAmount(t.ourTotalDue)}`,
    ...r.totalsProblems.map((p) => `  totals: ${p}`),
    ...r.discrepancies.map(discrepancyLine),
    ...(r.discrepancyCount > r.discrepancies.length
      ? [`  … ${r.discrepancyCount - r.discrepancies.length} more: statements export has them all`]
      : []),
  ];
}

export async function showStatement(
  deps: Pick<ReconcilerDeps, "store">,
  piaid: string,
  statementId: string,
): Promise<OpsOutput> {
  const s = await find(deps, piaid, statementId);
  if (!s) return notFound(piaid, statementId);
  const j = summaryJson(s);
  return {
    exitCode: 0,
    json: { ...j, reconciliation: s.reconciliation ?? null },
    lines: [
      `${j.paymentIntegratorAccountId} ${j.statementId} (ours ${j.paymentIntegratorStatementId})  ${j.state}`,
      `period ${j.billingPeriod.start} .. ${j.billingPeriod.end}, statement of ${j.statementDate}`,
      `due: ${formatAmount(s.summary.totalDueByIntegrator)} ${j.currencyCode} by ${j.dateDue}; quote memo line ${j.memoLineId} on the payment`,
      ...(s.refusal ? [`details refused at ${j.refusal!.at}: ${s.refusal.reason}`] : []),
      ...(s.reconciliation ? reconciliationLines(s.reconciliation, j.currencyCode) : ["not reconciled yet"]),
      ...(s.acceptance.acceptedAtMs !== undefined
        ? [
            `accepted at ${date(s.acceptance.acceptedAtMs)} by ${s.acceptance.by}${s.acceptance.override ? ` (override: ${s.acceptance.override.reason})` : ""}`,
          ]
        : s.acceptance.lastError
          ? [`last acceptance try failed: ${s.acceptance.lastError}`]
          : []),
    ],
  };
}

export async function reconcileStatementNow(
  deps: ReconcilerDeps,
  piaid: string,
  statementId: string,
): Promise<OpsOutput> {
  const outcome = await reconcileStatement(deps, { paymentIntegratorAccountId: piaid, statementId });
  if (outcome.kind === "NO_STATEMENT") return notFound(piaid, statementId);
  const s = (await find(deps, piaid, statementId))!;
  const shown = await showStatement(deps, piaid, statementId);
  const failed = outcome.kind === "REFUSED" || outcome.kind === "FAILED";
  return {
    exitCode: failed ? 1 : 0,
    json: { outcome, statement: shown.json },
    lines: [failed ? `reconciliation stopped: ${outcome.reason}` : `reconciled: ${s.state}`, ...shown.lines],
  };
}

/** Accepts a statement; `by` is the operator's identity, recorded with an override's reason. */
export async function acceptStatementNow(
  deps: ReconcilerDeps,
  piaid: string,
  statementId: string,
  options: { by: string; override?: boolean; reason?: string },
): Promise<OpsOutput> {
  const s = await find(deps, piaid, statementId);
  if (!s) return notFound(piaid, statementId);
  if (options.reason !== undefined && !options.override) {
    return refused("--reason goes with --override");
  }
  if (options.override && !options.reason?.trim())
    return refused("--override needs --reason TEXT: who and why are recorded");
  const result = await acceptStatement(deps, s, {
    by: options.by,
    ...(options.override && { override: { reason: options.reason! } }),
  });
  if (!result.ok) return refused(result.reason);
  const after = (await find(deps, piaid, statementId))!;
  return {
    exitCode: 0,
    json: { accepted: true, acceptance: after.acceptance },
    lines: [
      `accepted ${statementId} as ${options.by}${options.override ? ` (override: ${options.reason})` : ""}`,
    ],
  };
}

const refused = (reason: string): OpsOutput => ({
  exitCode: 1,
  json: { error: reason },
  lines: [`refused: ${reason}`],
});

const CSV_COLUMNS = ["type", "kind", "requestId", "ourId", "googleCharge", "ourCharge", "why"] as const;
const csvCell = (v: unknown) => {
  const s = v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

/**
 * Every line of the reconciliation for finance. The record keeps the first few hundred
 * discrepancies; when there are more, the reconciliation is computed again (same pages, same answer).
 */
export async function exportStatement(
  deps: ReconcilerDeps,
  piaid: string,
  statementId: string,
  format: "json" | "csv",
): Promise<OpsOutput> {
  const s = await find(deps, piaid, statementId);
  if (!s) return notFound(piaid, statementId);
  let r = s.reconciliation;
  if (!r) return refused("the statement is not reconciled yet: statements reconcile first");
  if (r.discrepancyCount > r.discrepancies.length) {
    r = await reconcileEvents(deps, s, (await fetchAllEvents(deps, s)).events);
  }
  const totals = Object.entries(r.totals).map(([k, v]) => `# ${k},${v}`);
  const csv = [
    `# statement,${csvCell(s.statementId)},${s.paymentIntegratorAccountId},${s.summary.currencyCode},memo ${csvCell(s.summary.memoLineId)},due ${date(s.summary.dateDue)}`,
    ...totals,
    CSV_COLUMNS.join(","),
    ...r.discrepancies.map((d) => CSV_COLUMNS.map((c) => csvCell(d[c])).join(",")),
  ];
  const json = { statement: summaryJson(s), reconciliation: r };
  return { exitCode: 0, json, lines: format === "csv" ? csv : [JSON.stringify(json, null, 2)] };
}
