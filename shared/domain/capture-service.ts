import * as v from "valibot";
import type { CaptureRequest, CaptureResult } from "../protocol/capture.ts";
import { parseCaptureRequest } from "../protocol/capture.ts";
import { checkRequestHeader, identifier } from "../protocol/common.ts";
import { invalidField, ProtocolError, unknownIdentifier } from "../protocol/errors.ts";
import { type CaptureDecision, type CaptureFacts, decideCapture, type RiskRule } from "./capture-decision.ts";
import type { CaptureRecord, DeliveryAttempt } from "./capture-record.ts";
import { pauseAfterContention } from "./contention.ts";
import { idempotencyKey, requestFingerprints } from "./idempotency.ts";
import { type Periods, periodsAt } from "./periods.ts";
import { otpDigest } from "./secrets.ts";

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

/** Money leaving an account: what a SUCCESS debits, guarded by the facts it was decided on. */
export interface Debit {
  request: CaptureRequest;
  facts: CaptureFacts;
  periods: Periods;
}

export type DecideOutcome = "COMMITTED" | "STALE" | "NOT_PENDING";

/**
 * What a capture does to the OTP it checked, in its own transaction: spend it (it matched) or count
 * a wrong try; either only while the OTP is unspent and has tries left, so concurrent tries stay bounded.
 */
export interface OtpUse {
  sendOtpRequestId: string;
  matched: boolean;
  nowMs: number;
}

/** Storage of the ledger and captures; one read round trip and one atomic write per capture. */
export interface CaptureStore {
  read(key: string, request: CaptureRequest, periods: Periods): Promise<CaptureSnapshot>;
  /** Records a capture (decided, or PENDING), with its debit when it is a SUCCESS, in one transaction. */
  write(
    record: CaptureRecord,
    debit: Debit | undefined,
    otpToConsume: OtpUse | undefined,
  ): Promise<CaptureWriteOutcome>;
  get(key: string): Promise<CaptureRecord | undefined>;
  /** The ledger facts for a recorded capture (its instrument, account and spend). */
  readFacts(record: CaptureRecord, periods: Periods): Promise<CaptureFacts>;
  /**
   * Moves a PENDING capture to its decided state (outcome, notification owed), with the debit of an
   * approved SUCCESS, only if it is still PENDING and, unless it is being expired, before its deadline.
   */
  decide(decided: CaptureRecord, debit: Debit | undefined, nowMs: number): Promise<DecideOutcome>;
  /** The notification is on the queue: the sweeper need not look at this record again. */
  markEnqueued(key: string): Promise<void>;
  recordDelivery(key: string, attempt: DeliveryAttempt, delivered: boolean): Promise<void>;
  /**
   * One page of the records the sweeper must act on (PENDING past their deadline, outcomes never
   * enqueued), taken evenly from every shard of the sweep index; `next` continues the pass.
   */
  due(nowMs: number, options?: DueOptions): Promise<DuePage>;
}

export interface DueOptions {
  /** At most this many records (default 100: one BatchGetItem). */
  pageSize?: number;
  /** The `next` of the previous page; absent: the first page. */
  next?: unknown;
  /** Throttled reads are not retried past this instant. */
  deadlineMs?: number;
}

export interface DuePage<R = CaptureRecord> {
  records: R[];
  /** When the oldest record of this page became due (the first page holds the oldest of all). */
  oldestDueAtMs?: number;
  /** Opaque: pass it back for the next page; absent when every shard is drained. */
  next?: unknown;
}

export interface CaptureDeps {
  store: CaptureStore;
  /** PIAIDs this deployment serves, each with its contract currency. */
  piaids: Readonly<Record<string, string>>;
  ledgerTimeZone: string;
  now: () => number;
  newTransactionId: () => string;
  riskRule?: RiskRule;
  /** The HMAC key of OTP digests; needed only by captures that carry an OTP. */
  otpPepper?: () => Promise<Uint8Array>;
}

export interface CaptureOutcome<R = CaptureResult> {
  response: R & { responseHeader: { responseTimestamp: string } };
  replayed: boolean;
  /** Answered as a replay because a concurrent duplicate won the conditional write. */
  lostRace: boolean;
  /** Read → decide → write rounds it took (more than one means contention on the key or the account). */
  attempts: number;
}

/** Checks what every Google-facing method shares: header, PIAID served, contract currency. */
export function checkContract(
  deps: Pick<CaptureDeps, "piaids">,
  request: { paymentIntegratorAccountId: string; currencyCode: string },
) {
  const contractCurrency = deps.piaids[request.paymentIntegratorAccountId];
  if (contractCurrency === undefined) throw unknownIdentifier("paymentIntegratorAccountId");
  if (request.currencyCode !== contractCurrency) {
    throw invalidField("currencyCode", "is not the currency of the paymentIntegratorAccountId");
  }
}

/**
 * The idempotent read → decide → write loop both capture methods share. Contention (a concurrent
 * write on the same key or account) is retried until `deadlineMs`; past it the caller answers 500
 * and Google retries with the same requestId.
 */
export async function decideOnce<R extends Record<string, unknown>>(
  deps: CaptureDeps,
  key: string,
  fingerprints: readonly string[],
  request: CaptureRequest,
  deadlineMs: number,
  build: (
    snapshot: CaptureSnapshot,
    now: number,
    periods: Periods,
  ) => { record: CaptureRecord; debit: Debit | undefined; otpToConsume?: OtpUse },
): Promise<CaptureOutcome<R>> {
  for (let attempt = 1; ; attempt++) {
    const now = deps.now();
    const periods = periodsAt(now, deps.ledgerTimeZone);
    const snapshot = await deps.store.read(key, request, periods);
    if (snapshot.record) {
      const response = replay(snapshot.record, fingerprints, deps.now()) as CaptureOutcome<R>["response"];
      return { response, replayed: true, lostRace: attempt > 1, attempts: attempt };
    }
    const { record, debit, otpToConsume } = build(snapshot, now, periods);
    const outcome = await deps.store.write(record, debit, otpToConsume);
    if (outcome.kind === "COMMITTED") {
      const response = stamp(record.response, deps.now()) as CaptureOutcome<R>["response"];
      return { response, replayed: false, lostRace: false, attempts: attempt };
    }
    // A concurrent duplicate won: answer as its replay (reading the record only if the store could not return it).
    if (outcome.kind === "KEY_TAKEN" && outcome.record) {
      const response = replay(outcome.record, fingerprints, deps.now()) as CaptureOutcome<R>["response"];
      return { response, replayed: true, lostRace: true, attempts: attempt };
    }
    if (outcome.kind === "STALE")
      await pauseAfterContention(`capture ${key}`, attempt, deps.now(), deadlineMs);
  }
}

/**
 * Checks the header, then validates the request (and its PIAID and currency) and names its
 * idempotency key. When validation or the PIAID / currency check refuses it, a stored record of this
 * same request is replayed instead: a stricter validator or a configuration change after a deploy
 * must not turn a retry of a recorded capture into a 4xx. Only refusals pay for that lookup; a valid
 * request finds its record in the decision's own read.
 */
export async function validOrReplay<
  T extends { paymentIntegratorAccountId: string; currencyCode: string },
  R extends Record<string, unknown>,
>(
  deps: Pick<CaptureDeps, "store" | "now" | "piaids">,
  method: "capture" | "asynchronousCapture",
  body: unknown,
  parse: (fields: Record<string, unknown>) => T,
): Promise<{ request: T; key: string; fingerprints: readonly string[] } | { replayed: CaptureOutcome<R> }> {
  const { requestId } = checkRequestHeader(body, deps.now());
  const fields = body as Record<string, unknown>;
  const fingerprints = requestFingerprints(method, fields);
  let request: T;
  try {
    request = parse(fields);
    checkContract(deps, request);
  } catch (error) {
    const piaid = fields.paymentIntegratorAccountId;
    if (!(error instanceof ProtocolError) || !v.is(identifier, piaid)) throw error;
    const record = await deps.store.get(idempotencyKey(piaid, requestId));
    if (!record || !fingerprints.includes(record.fingerprint)) throw error;
    const response = stamp(record.response, deps.now()) as CaptureOutcome<R>["response"];
    return { replayed: { response, replayed: true, lostRace: false, attempts: 1 } };
  }
  return { request, key: idempotencyKey(request.paymentIntegratorAccountId, requestId), fingerprints };
}

/** POST /v1/capture: decide from the ledger and, on SUCCESS, debit, in one atomic write. */
export async function capture(
  deps: CaptureDeps,
  body: unknown,
  deadlineMs = Number.POSITIVE_INFINITY,
): Promise<CaptureOutcome> {
  const valid = await validOrReplay<CaptureRequest, CaptureResult>(
    deps,
    "capture",
    body,
    parseCaptureRequest,
  );
  if ("replayed" in valid) return valid.replayed;
  const { request, key, fingerprints } = valid;
  const fingerprint = fingerprints[0]!;
  const v = request.verification;
  const presentedOtpDigest =
    v.kind === "OTP" ? await presentedOtp(deps, v.sendOtpRequestId, v.otp) : undefined;
  const outcome = await decideOnce<CaptureResult>(
    deps,
    key,
    fingerprints,
    request,
    deadlineMs,
    (snapshot, now, periods) => {
      const decision = decideCapture(request, snapshot.facts, now, deps.riskRule, presentedOtpDigest);
      const paymentIntegratorTransactionId = deps.newTransactionId();
      const record = captureRecord(
        request,
        key,
        fingerprint,
        snapshot.facts,
        paymentIntegratorTransactionId,
        now,
        {
          method: "capture",
          response: captureResultOf(decision, paymentIntegratorTransactionId) as CaptureRecord["response"],
          state: "DECIDED",
        },
      );
      const debit = decision.result === "SUCCESS" ? { request, facts: snapshot.facts, periods } : undefined;
      const otpTried = v.kind === "OTP" && (decision.consumeOtp || decision.countOtpFailure);
      const otpToConsume = otpTried
        ? { sendOtpRequestId: v.sendOtpRequestId, matched: decision.consumeOtp, nowMs: now }
        : undefined;
      return { record, debit, ...(otpToConsume && { otpToConsume }) };
    },
  );
  return outcome;
}

async function presentedOtp(deps: Pick<CaptureDeps, "otpPepper">, sendOtpRequestId: string, otp: string) {
  if (!deps.otpPepper)
    throw new Error("a capture with an OTP, and no OTP pepper configured (OTP_PEPPER_SECRET_ID)");
  return otpDigest(await deps.otpPepper(), sendOtpRequestId, otp);
}

/** The stored answer to a retry of the same request (fresh responseTimestamp); another request with its key is 412. */
export function replay<T extends Record<string, unknown>>(
  record: { fingerprint: string; response: T },
  fingerprints: string | readonly string[],
  now: number,
) {
  if (!(typeof fingerprints === "string" ? [fingerprints] : fingerprints).includes(record.fingerprint)) {
    throw new ProtocolError("IDEMPOTENCY_VIOLATION", "requestId was already used for a different request");
  }
  return stamp(record.response, now);
}

export const stamp = <T extends Record<string, unknown>>(response: T, now: number) => ({
  responseHeader: { responseTimestamp: String(now) },
  ...response,
});

/** The capture's result as the protocol words it: rawResult on every decline, the limit or balance where due. */
export function captureResultOf(
  decision: CaptureDecision,
  paymentIntegratorTransactionId: string,
): CaptureResult {
  const result: CaptureResult = { paymentIntegratorTransactionId, result: decision.result };
  if (decision.result !== "SUCCESS") result.rawResult = { scope: "LEDGER", rawCode: decision.rawCode };
  if (decision.transactionLimit !== undefined) result.transactionLimit = decision.transactionLimit.toString();
  if (decision.currentBalance !== undefined) result.currentBalance = decision.currentBalance.toString();
  return result;
}

/** A capture's record: what every capture method records, with the method's own answer and state. */
export function captureRecord(
  request: CaptureRequest,
  key: string,
  fingerprint: string,
  facts: CaptureFacts,
  paymentIntegratorTransactionId: string,
  now: number,
  answer: Pick<CaptureRecord, "method" | "response" | "state" | "deadlineMs">,
): CaptureRecord {
  return {
    key,
    paymentIntegratorAccountId: request.paymentIntegratorAccountId,
    requestId: request.requestHeader.requestId,
    fingerprint,
    paymentIntegratorTransactionId,
    amount: request.amount,
    currencyCode: request.currencyCode,
    transactionDescription: request.transactionDescription,
    accountId: facts.account!.accountId,
    instrumentKind: request.fop.kind,
    instrumentRef: facts.instrumentRef!,
    createdAtMs: now,
    ...answer,
  };
}
