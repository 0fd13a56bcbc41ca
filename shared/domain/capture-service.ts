import { setTimeout as delay } from "node:timers/promises";
import type { CaptureRequest, CaptureResult } from "../protocol/capture.ts";
import { parseCaptureRequest } from "../protocol/capture.ts";
import { checkRequestHeader } from "../protocol/common.ts";
import { invalidField, ProtocolError, unknownIdentifier } from "../protocol/errors.ts";
import { type CaptureDecision, type CaptureFacts, decideCapture, type RiskRule } from "./capture-decision.ts";
import { idempotencyKey, requestFingerprint } from "./idempotency.ts";
import { type Periods, periodsAt } from "./periods.ts";

/** The capture as kept for idempotent replay and as a financial record (refunds refer to it). */
export interface CaptureRecord {
  key: string;
  paymentIntegratorAccountId: string;
  requestId: string;
  fingerprint: string;
  paymentIntegratorTransactionId: string;
  result: CaptureResult;
  amount: bigint;
  currencyCode: string;
  transactionDescription: string;
  accountId: string;
  instrumentKind: CaptureRequest["fop"]["kind"];
  createdAtMs: number;
}

export interface CaptureSnapshot {
  /** The idempotency record of this key, if any. */
  record: CaptureRecord | undefined;
  facts: CaptureFacts;
}

export type CaptureWriteOutcome =
  /** Record (and debit, on SUCCESS) committed together. */
  | { kind: "COMMITTED" }
  /** Another request with this key committed first; its record, when the store returned it. */
  | { kind: "KEY_TAKEN"; record: CaptureRecord | undefined }
  /** Something the decision read changed before the write: decide again. */
  | { kind: "STALE" };

/** Storage of the ledger and captures; one read round trip and one atomic write per capture. */
export interface CaptureStore {
  read(key: string, request: CaptureRequest, periods: Periods): Promise<CaptureSnapshot>;
  write(
    record: CaptureRecord,
    decision: CaptureDecision,
    request: CaptureRequest,
    facts: CaptureFacts,
    periods: Periods,
  ): Promise<CaptureWriteOutcome>;
}

export interface CaptureDeps {
  store: CaptureStore;
  /** PIAIDs this deployment serves, each with its contract currency. */
  piaids: Readonly<Record<string, string>>;
  ledgerTimeZone: string;
  now: () => number;
  newTransactionId: () => string;
  riskRule?: RiskRule;
}

export interface CaptureOutcome {
  response: CaptureResult & { responseHeader: { responseTimestamp: string } };
  replayed: boolean;
  /** Answered as a replay because a concurrent duplicate won the conditional write. */
  lostRace: boolean;
  /** Read → decide → write rounds it took (more than one means contention on the key or the account). */
  attempts: number;
  request: CaptureRequest;
}

/** Contention backoff: full jitter over an exponential ceiling, capped. */
const backoffMs = (attempt: number) => Math.random() * Math.min(250, 8 * 2 ** attempt);

/**
 * Runs a capture. Contention (a concurrent write on the same key or account) is retried until
 * `deadlineMs`; past it the caller answers 500 and Google retries with the same requestId.
 */
export async function capture(
  deps: CaptureDeps,
  body: unknown,
  deadlineMs = Number.POSITIVE_INFINITY,
): Promise<CaptureOutcome> {
  const header = checkRequestHeader(body, deps.now());
  const request = parseCaptureRequest(body as Record<string, unknown>);
  const contractCurrency = deps.piaids[request.paymentIntegratorAccountId];
  if (contractCurrency === undefined) throw unknownIdentifier("paymentIntegratorAccountId");
  if (request.currencyCode !== contractCurrency) {
    throw invalidField("currencyCode", "is not the currency of the paymentIntegratorAccountId");
  }
  const key = idempotencyKey(request.paymentIntegratorAccountId, header.requestId);
  const fingerprint = requestFingerprint(body as Record<string, unknown>);

  for (let attempt = 1; ; attempt++) {
    const now = deps.now();
    const periods = periodsAt(now, deps.ledgerTimeZone);
    const snapshot = await deps.store.read(key, request, periods);
    if (snapshot.record) {
      return {
        response: replay(snapshot.record, fingerprint, deps.now()),
        replayed: true,
        lostRace: attempt > 1,
        attempts: attempt,
        request,
      };
    }
    const decision = decideCapture(request, snapshot.facts, now, deps.riskRule);
    const record = captureRecord(
      request,
      key,
      fingerprint,
      decision,
      snapshot.facts,
      deps.newTransactionId(),
      now,
    );
    const outcome = await deps.store.write(record, decision, request, snapshot.facts, periods);
    if (outcome.kind === "COMMITTED") {
      return {
        response: stamp(record.result, deps.now()),
        replayed: false,
        lostRace: false,
        attempts: attempt,
        request,
      };
    }
    // A concurrent duplicate won: answer as its replay (reading the record only if the store could not return it).
    if (outcome.kind === "KEY_TAKEN" && outcome.record) {
      return {
        response: replay(outcome.record, fingerprint, deps.now()),
        replayed: true,
        lostRace: true,
        attempts: attempt,
        request,
      };
    }
    if (outcome.kind === "STALE") {
      const pause = backoffMs(attempt);
      if (deps.now() + pause > deadlineMs) {
        throw new Error(`capture ${key} still contended after ${attempt} attempts, out of time`);
      }
      await delay(pause);
    }
  }
}

function replay(record: CaptureRecord, fingerprint: string, now: number) {
  if (record.fingerprint !== fingerprint) {
    throw new ProtocolError("IDEMPOTENCY_VIOLATION", "requestId was already used for a different request");
  }
  return stamp(record.result, now);
}

const stamp = (result: CaptureResult, now: number) => ({
  responseHeader: { responseTimestamp: String(now) },
  ...result,
});

function captureRecord(
  request: CaptureRequest,
  key: string,
  fingerprint: string,
  decision: CaptureDecision,
  facts: CaptureFacts,
  paymentIntegratorTransactionId: string,
  now: number,
): CaptureRecord {
  const result: CaptureResult = { paymentIntegratorTransactionId, result: decision.result };
  if (decision.result !== "SUCCESS") result.rawResult = { scope: "LEDGER", rawCode: decision.rawCode };
  if (decision.transactionLimit !== undefined) result.transactionLimit = decision.transactionLimit.toString();
  if (decision.currentBalance !== undefined) result.currentBalance = decision.currentBalance.toString();
  return {
    key,
    paymentIntegratorAccountId: request.paymentIntegratorAccountId,
    requestId: request.requestHeader.requestId,
    fingerprint,
    paymentIntegratorTransactionId,
    result,
    amount: request.amount,
    currencyCode: request.currencyCode,
    transactionDescription: request.transactionDescription,
    accountId: facts.account!.accountId,
    instrumentKind: request.fop.kind,
    createdAtMs: now,
  };
}
