import { checkRequestHeader } from "../protocol/common.ts";
import {
  parseRemittanceStatementNotification,
  type RemittanceStatementNotificationResponse,
  type StatementSummary,
  summaryOf,
} from "../protocol/remittance.ts";
import { checkContract, replay, stamp } from "./capture-service.ts";
import { idempotencyKey, requestFingerprint } from "./idempotency.ts";
import type { Movement, Reconciliation } from "./reconciliation.ts";

/**
 * POST /v1/remittanceStatementNotification: Google tells us what we owe for a billing period. We record
 * the statement in one conditional write, answer ACCEPTED, and reconcile it later, off Google's request.
 */

export type StatementState =
  /** Recorded; reconciliation not run yet (or running). */
  | "RECEIVED"
  /** Reconciled exactly; waiting for acceptance (an operator's, where the environment wants one). */
  | "RECONCILED"
  /** Reconciled with discrepancies: blocked until an operator overrides or a new run is exact. */
  | "DISCREPANCIES"
  /** Google's details could not be used (refused page, Google could not verify us): see `refusal`. */
  | "DETAILS_REFUSED"
  /** acceptRemittanceStatement answered SUCCESS. */
  | "ACCEPTED";

export interface Acceptance {
  /** Our requestId for acceptRemittanceStatement, fixed when the statement is recorded. */
  requestId: string;
  acceptedAtMs?: number;
  /** "auto", or the operator who accepted. */
  by?: string;
  /** An acceptance of a statement that did not reconcile exactly: who and why. */
  override?: { by: string; reason: string };
  /** The last failed call, for operators. */
  lastError?: string;
}

export interface StatementRecord {
  key: string;
  paymentIntegratorAccountId: string;
  /** Google's requestId of the notification: the statement id. */
  statementId: string;
  fingerprint: string;
  paymentIntegratorStatementId: string;
  response: RemittanceStatementNotificationResponse;
  summary: StatementSummary;
  state: StatementState;
  receivedAtMs: number;
  acceptance: Acceptance;
  reconciliation?: Reconciliation;
  reconciledAtMs?: number;
  /** Why Google's details were refused, and when. */
  refusal?: { atMs: number; reason: string };
}

export type StatementWriteOutcome =
  | { kind: "COMMITTED" }
  | { kind: "KEY_TAKEN"; record: StatementRecord | undefined };

export interface StatementStore {
  get(key: string): Promise<StatementRecord | undefined>;
  /** Records a new statement; one conditional Put. */
  create(record: StatementRecord): Promise<StatementWriteOutcome>;
  /** Stores a reconciliation and the state it leads to, unless the statement was accepted meanwhile. */
  saveReconciliation(
    key: string,
    reconciliation: Reconciliation,
    state: StatementState,
    atMs: number,
  ): Promise<boolean>;
  saveRefusal(key: string, reason: string, atMs: number): Promise<boolean>;
  /** ACCEPTED, with who (and an override's why), from any state but ACCEPTED. */
  saveAccepted(key: string, acceptance: Acceptance): Promise<boolean>;
  saveAcceptError(statement: Pick<StatementRecord, "key" | "acceptance">, error: string): Promise<void>;
  /** Our SUCCESS movements whose instant lies in [fromMs, toMs), by the settlement index (never a scan). */
  movementsIn(piaid: string, fromMs: number, toMs: number): Promise<Movement[]>;
  /** Our movements with these keys (captures and refunds), whatever their period; missing keys are absent. */
  movementsByKey(captureKeys: string[], refundKeys: string[]): Promise<Map<string, Movement>>;
  /** Statements, newest first, optionally in one state. */
  list(state?: StatementState): Promise<StatementRecord[]>;
}

export interface StatementMessage {
  paymentIntegratorAccountId: string;
  statementId: string;
}

export interface StatementDeps {
  store: StatementStore;
  piaids: Readonly<Record<string, string>>;
  now: () => number;
  newStatementId: () => string;
  newAcceptRequestId: () => string;
  queue: { enqueue(message: StatementMessage): Promise<void> };
}

export interface StatementOutcome {
  response: RemittanceStatementNotificationResponse & { responseHeader: { responseTimestamp: string } };
  replayed: boolean;
  lostRace: boolean;
  attempts: number;
  log: Record<string, string>;
}

export async function remittanceStatementNotification(
  deps: StatementDeps,
  body: Record<string, unknown>,
): Promise<StatementOutcome> {
  const header = checkRequestHeader(body, deps.now());
  const request = parseRemittanceStatementNotification(body);
  checkContract(deps, {
    paymentIntegratorAccountId: request.paymentIntegratorAccountId,
    currencyCode: request.remittanceStatementSummary.currencyCode,
  });
  const key = idempotencyKey(request.paymentIntegratorAccountId, header.requestId);
  const fingerprint = requestFingerprint("remittanceStatementNotification", body);
  const message = {
    paymentIntegratorAccountId: request.paymentIntegratorAccountId,
    statementId: header.requestId,
  };
  const log = { statementId: header.requestId };
  const answerReplay = async (record: StatementRecord, lostRace: boolean) => {
    const response = replay(record, fingerprint, deps.now());
    // A retry of a statement still waiting for its reconciliation puts its message on the queue again (harmless twice).
    if (record.state === "RECEIVED") await deps.queue.enqueue(message);
    return { response, replayed: true, lostRace, attempts: 1, log };
  };
  const existing = await deps.store.get(key);
  if (existing) return answerReplay(existing, false);
  const now = deps.now();
  const paymentIntegratorStatementId = deps.newStatementId();
  const record: StatementRecord = {
    key,
    paymentIntegratorAccountId: request.paymentIntegratorAccountId,
    statementId: header.requestId,
    fingerprint,
    paymentIntegratorStatementId,
    response: { paymentIntegratorStatementId, result: "ACCEPTED" },
    summary: summaryOf(request.remittanceStatementSummary),
    state: "RECEIVED",
    receivedAtMs: now,
    acceptance: { requestId: deps.newAcceptRequestId() },
  };
  const outcome = await deps.store.create(record);
  if (outcome.kind === "KEY_TAKEN") {
    const winner = outcome.record ?? (await deps.store.get(key));
    if (!winner) throw new Error(`statement ${key}: key taken but no record`);
    return answerReplay(winner, true);
  }
  // If this fails, the answer is a 500: Google retries, and the retry (a replay) enqueues it again.
  await deps.queue.enqueue(message);
  return { response: stamp(record.response, deps.now()), replayed: false, lostRace: false, attempts: 1, log };
}
