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
  | "COMMITTED"
  /** Another request with this key committed first: read again and replay. */
  | "KEY_TAKEN"
  /** Something the decision read changed before the write: decide again. */
  | "STALE";

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
  request: CaptureRequest;
}

/** Attempts of read → decide → write before giving up with a 500 (Google then retries). */
const MAX_ATTEMPTS = 6;

export async function capture(deps: CaptureDeps, body: unknown): Promise<CaptureOutcome> {
  const header = checkRequestHeader(body, deps.now());
  const request = parseCaptureRequest(body as Record<string, unknown>);
  const contractCurrency = deps.piaids[request.paymentIntegratorAccountId];
  if (contractCurrency === undefined) throw unknownIdentifier("paymentIntegratorAccountId");
  if (request.currencyCode !== contractCurrency) {
    throw invalidField("currencyCode", "is not the currency of the paymentIntegratorAccountId");
  }
  const key = idempotencyKey(request.paymentIntegratorAccountId, header.requestId);
  const fingerprint = requestFingerprint(body as Record<string, unknown>);

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const now = deps.now();
    const periods = periodsAt(now, deps.ledgerTimeZone);
    const snapshot = await deps.store.read(key, request, periods);
    if (snapshot.record)
      return { response: replay(snapshot.record, fingerprint, deps.now()), replayed: true, request };

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
    if (outcome === "COMMITTED")
      return { response: stamp(record.result, deps.now()), replayed: false, request };
    // KEY_TAKEN: the next read finds the winner's record. STALE: decide again on fresh facts.
    await delay(Math.floor(Math.random() * 5 * attempt));
  }
  throw new Error(`capture ${key} still contended after ${MAX_ATTEMPTS} attempts`);
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
