import { setTimeout as delay } from "node:timers/promises";
import * as v from "valibot";
import type { CallGoogle } from "../adapters/google/google-client.ts";
import {
  AcceptRemittanceStatementResponse,
  acceptRequest,
  DETAILS_PAGE_SIZE,
  detailsRequest,
  parseDetailsPage,
  type StatementEvent,
} from "../protocol/remittance.ts";
import { idempotencyKey } from "./idempotency.ts";
import { billingWindow, type Reconciliation, reconcile } from "./reconciliation.ts";
import type { StatementMessage, StatementRecord, StatementStore } from "./statement-service.ts";

/**
 * The reconciler: fetches every page of a statement's details from Google, matches them with our
 * records, stores the reconciliation and, where the environment says so, accepts an exact one.
 */

export type AcceptancePolicy = "auto" | "operator";

export interface ReconcilerDeps {
  store: StatementStore;
  callGoogle: CallGoogle;
  ledgerTimeZone: string;
  acceptance: AcceptancePolicy;
  now: () => number;
  newRequestId: () => string;
  /** Tries per page for transient failures (network, 5xx, timeout), with backoff between them. */
  pageTries?: number;
  backoffMs?: (attempt: number) => number;
  pageSize?: number;
}

export type ReconcileOutcome =
  | { kind: "NO_STATEMENT" }
  | { kind: "ALREADY_ACCEPTED" }
  | { kind: "RECONCILED"; reconciliation: Reconciliation; accepted: boolean }
  /** Google's details could not be used; recorded on the statement. `configuration`: Google could not verify us. */
  | { kind: "REFUSED"; reason: string; configuration: boolean }
  /** Google could not be reached (or the accept failed) within the tries: try the message again later. */
  | { kind: "FAILED"; reason: string };

class Refused extends Error {
  readonly configuration: boolean;
  constructor(reason: string, configuration = false) {
    super(reason);
    this.configuration = configuration;
  }
}
class Unreachable extends Error {}

const defaultBackoff = (attempt: number) =>
  Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

/** Every event of the statement, page after page, refusing any page that could make the walk wrong or endless. */
export async function fetchAllEvents(
  deps: ReconcilerDeps,
  statement: StatementRecord,
): Promise<{ events: StatementEvent[]; pages: number }> {
  const pageSize = deps.pageSize ?? DETAILS_PAGE_SIZE;
  const events: StatementEvent[] = [];
  const offsets = new Set<number>();
  let offset = 0;
  let total: number | undefined;
  for (let pages = 1; ; pages++) {
    const page = await fetchPage(deps, statement, offset, pageSize);
    if (page.eventOffset !== offset)
      throw new Refused(`page at offset ${offset} says eventOffset ${page.eventOffset}`);
    if (offsets.has(page.eventOffset)) throw new Refused(`page repeats offset ${page.eventOffset}`);
    offsets.add(page.eventOffset);
    total ??= page.totalEvents;
    if (page.totalEvents !== total)
      throw new Refused(`totalEvents changed from ${total} to ${page.totalEvents}`);
    if (page.events.length > pageSize)
      throw new Refused(`page at offset ${offset} has more events than asked for`);
    if (page.currencyCode !== undefined && page.currencyCode !== statement.summary.currencyCode) {
      throw new Refused("page's currencyCode contradicts the statement's");
    }
    if (
      page.totalDueByIntegrator !== undefined &&
      page.totalDueByIntegrator !== statement.summary.totalDueByIntegrator
    ) {
      throw new Refused("page's totalDueByIntegrator contradicts the statement's");
    }
    events.push(...page.events);
    if (events.length > total) throw new Refused(`pages hold more events than totalEvents (${total})`);
    if (page.nextEventOffset === undefined) {
      if (events.length !== total) {
        throw new Refused(`the last page leaves ${events.length} events of totalEvents ${total}`);
      }
      return { events, pages };
    }
    if (page.nextEventOffset !== offset + page.events.length || page.events.length === 0) {
      throw new Refused(`nextEventOffset ${page.nextEventOffset} does not advance past this page`);
    }
    if (pages >= Math.ceil(total / pageSize) + 1) throw new Refused("more pages than totalEvents allows");
    offset = page.nextEventOffset;
  }
}

async function fetchPage(deps: ReconcilerDeps, statement: StatementRecord, offset: number, pageSize: number) {
  const tries = deps.pageTries ?? 3;
  const requestId = deps.newRequestId();
  let last = "";
  for (let attempt = 1; attempt <= tries; attempt++) {
    const body = detailsRequest(
      requestId,
      statement.paymentIntegratorAccountId,
      statement.statementId,
      offset,
      deps.now(),
      pageSize,
    );
    const answer = await deps.callGoogle(
      "remittanceStatementDetails",
      statement.paymentIntegratorAccountId,
      body,
    );
    if (answer.ok) {
      const parsed = parseDetailsPage(answer.body);
      if ("refused" in parsed) throw new Refused(`page at offset ${offset}: ${parsed.refused}`);
      return parsed.page;
    }
    if (answer.configuration) throw new Refused(answer.reason, true);
    if (answer.refused) throw new Refused(`page at offset ${offset}: ${answer.reason}`);
    last = answer.reason;
    if (attempt < tries) await delay((deps.backoffMs ?? defaultBackoff)(attempt));
  }
  throw new Unreachable(`remittanceStatementDetails at offset ${offset}: ${last} (${tries} tries)`);
}

/** Runs the reconciliation of one statement now: the same records and pages give the same result. */
export async function reconcileStatement(
  deps: ReconcilerDeps,
  message: StatementMessage,
): Promise<ReconcileOutcome> {
  const key = idempotencyKey(message.paymentIntegratorAccountId, message.statementId);
  const statement = await deps.store.get(key);
  if (!statement) return { kind: "NO_STATEMENT" };
  if (statement.state === "ACCEPTED") return { kind: "ALREADY_ACCEPTED" };
  let events: StatementEvent[];
  try {
    ({ events } = await fetchAllEvents(deps, statement));
  } catch (error) {
    if (error instanceof Refused) {
      await deps.store.saveRefusal(key, error.message, deps.now());
      return { kind: "REFUSED", reason: error.message, configuration: error.configuration };
    }
    if (error instanceof Unreachable) return { kind: "FAILED", reason: error.message };
    throw error;
  }
  const reconciliation = await reconcileEvents(deps, statement, events);
  const saved = await deps.store.saveReconciliation(
    key,
    reconciliation,
    reconciliation.exact ? "RECONCILED" : "DISCREPANCIES",
    deps.now(),
  );
  if (!saved) return { kind: "ALREADY_ACCEPTED" };
  if (!reconciliation.exact || deps.acceptance !== "auto") {
    return { kind: "RECONCILED", reconciliation, accepted: false };
  }
  const accepted = await acceptStatement(
    deps,
    { ...statement, state: "RECONCILED", reconciliation },
    { by: "auto" },
  );
  if (!accepted.ok) return { kind: "FAILED", reason: accepted.reason };
  return { kind: "RECONCILED", reconciliation, accepted: true };
}

/** Matches the events with our records: the period's movements by index, the rest by key. */
export async function reconcileEvents(
  deps: Pick<ReconcilerDeps, "store" | "ledgerTimeZone">,
  statement: StatementRecord,
  events: StatementEvent[],
): Promise<Reconciliation> {
  const piaid = statement.paymentIntegratorAccountId;
  const window = billingWindow(statement.summary.startDate, statement.summary.endDate, deps.ledgerTimeZone);
  const inPeriod = await deps.store.movementsIn(piaid, window.fromMs, window.toMs);
  const known = new Set(inPeriod.map((m) => `${m.kind}|${m.key}`));
  const missing = (kind: "CAPTURE" | "REFUND") => [
    ...new Set(
      events
        .filter((e) => e.kind === kind)
        .map((e) => idempotencyKey(piaid, e.eventRequestId))
        .filter((k) => !known.has(`${kind}|${k}`)),
    ),
  ];
  const captureKeys = missing("CAPTURE");
  const refundKeys = missing("REFUND");
  const byKey =
    captureKeys.length + refundKeys.length > 0
      ? await deps.store.movementsByKey(captureKeys, refundKeys)
      : new Map();
  return reconcile({ piaid, summary: statement.summary, window, events, inPeriod, byKey });
}

/**
 * Calls acceptRemittanceStatement (our fixed requestId) and records ACCEPTED with who. A statement that
 * did not reconcile exactly is accepted only with an operator's override: who and why.
 */
export async function acceptStatement(
  deps: Pick<ReconcilerDeps, "store" | "callGoogle" | "now">,
  statement: StatementRecord,
  who: { by: string; override?: { reason: string } },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (statement.state === "ACCEPTED") return { ok: true };
  const exact = statement.state === "RECONCILED" && statement.reconciliation?.exact === true;
  if (!exact && !who.override) {
    return {
      ok: false,
      reason: `statement is ${statement.state}, not reconciled exactly: accepting needs an override with a reason`,
    };
  }
  if (who.override && !who.override.reason.trim()) return { ok: false, reason: "an override needs a reason" };
  const piaid = statement.paymentIntegratorAccountId;
  const answer = await deps.callGoogle(
    "acceptRemittanceStatement",
    piaid,
    acceptRequest(statement.acceptance.requestId, piaid, statement.statementId, deps.now()),
  );
  const reason = !answer.ok
    ? answer.reason
    : v.safeParse(AcceptRemittanceStatementResponse, answer.body).success
      ? undefined
      : "answer is not an acceptRemittanceStatement SUCCESS";
  if (reason) {
    await deps.store.saveAcceptError(statement, reason);
    return { ok: false, reason };
  }
  await deps.store.saveAccepted(statement.key, {
    requestId: statement.acceptance.requestId,
    acceptedAtMs: deps.now(),
    by: who.by,
    ...(who.override && { override: { by: who.by, reason: who.override.reason } }),
  });
  return { ok: true };
}
