import * as v from "valibot";
import {
  type CaptureResult as NotificationCaptureResult,
  notificationResultOf,
  ReportedFailureCode,
} from "../protocol/capture-result-notification.ts";
import { identifier, requestIdPattern } from "../protocol/common.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { asCaptureRequest } from "./asynchronous-capture-service.ts";
import { decideCapture, type RiskRule } from "./capture-decision.ts";
import type { CaptureRecord, NotificationQueue, RecordedOutcome } from "./capture-record.ts";
import type { CaptureStore, Debit } from "./capture-service.ts";
import { pauseAfterContention } from "./contention.ts";
import { idempotencyKey } from "./idempotency.ts";
import { enqueueOwed } from "./owed-notification.ts";
import { periodsAt } from "./periods.ts";

export type { NotificationMessage, NotificationQueue } from "./capture-record.ts";

export interface OutcomeDeps {
  store: CaptureStore;
  queue: NotificationQueue;
  ledgerTimeZone: string;
  now: () => number;
  /** Our requestId for a notification: fixed when the outcome is recorded, reused on every try. */
  newRequestId: () => string;
  riskRule?: RiskRule;
}

/** A refusal of the internal outcome API (not the Google protocol: no ErrorResponse here). */
export class OutcomeError extends Error {
  readonly status: 400 | 404 | 409;
  readonly code:
    | "INVALID_OUTCOME"
    | "UNKNOWN_CAPTURE"
    | "NOT_ASYNCHRONOUS"
    | "ALREADY_DECIDED"
    | "CAPTURE_EXPIRED";
  constructor(status: OutcomeError["status"], code: OutcomeError["code"], message: string) {
    super(message);
    this.name = "OutcomeError";
    this.status = status;
    this.code = code;
  }
}

/** A captureRequestId is Google's requestId of the capture: the protocol bounds it, so the record key stays small. */
const captureRequestId = requestIdPattern;
/** Raw codes are short codes of our subsystems ("U16", "Z6"): bounded and printable, as they go to Google. */
const rawText = v.pipe(v.string(), v.regex(/^[\x20-\x7E]{1,64}$/, "must be 1-64 printable ASCII characters"));

const OutcomeRequest = v.variant("outcome", [
  v.object({
    paymentIntegratorAccountId: identifier,
    captureRequestId,
    outcome: v.literal("APPROVED"),
  }),
  v.object({
    paymentIntegratorAccountId: identifier,
    captureRequestId,
    outcome: v.literal("FAILED"),
    captureResultCode: v.picklist(ReportedFailureCode),
    rawResult: v.object({ scope: v.optional(rawText), rawCode: rawText }),
  }),
]);
export type OutcomeRequest = v.InferOutput<typeof OutcomeRequest>;

export function parseOutcomeRequest(body: unknown): OutcomeRequest {
  const result = v.safeParse(OutcomeRequest, body);
  if (!result.success) {
    const issue = result.issues[0];
    throw new OutcomeError(400, "INVALID_OUTCOME", `${v.getDotPath(issue) ?? "body"}: ${issue.message}`);
  }
  return result.output;
}

const sameOutcome = (a: RecordedOutcome | undefined, b: RecordedOutcome) =>
  JSON.stringify(a) === JSON.stringify(b);

/**
 * Records what the customer did for an acknowledged asynchronous capture: once, only while it is
 * PENDING and before its deadline, atomically with the debit of an approved SUCCESS; then immutable.
 * The same outcome again gets the same answer; another outcome for a decided capture is refused.
 */
export async function recordCaptureOutcome(
  deps: OutcomeDeps,
  body: unknown,
  deadlineMs = Number.POSITIVE_INFINITY,
): Promise<{ record: CaptureRecord; repeated: boolean }> {
  const input = parseOutcomeRequest(body);
  const outcome: RecordedOutcome =
    input.outcome === "APPROVED"
      ? { kind: "APPROVED" }
      : { kind: "FAILED", captureResultCode: input.captureResultCode, rawResult: input.rawResult };
  const key = idempotencyKey(input.paymentIntegratorAccountId, input.captureRequestId);
  for (let attempt = 1; ; attempt++) {
    const record = await deps.store.get(key);
    if (!record)
      throw new OutcomeError(404, "UNKNOWN_CAPTURE", "no capture with this PIAID and captureRequestId");
    if (record.method !== "asynchronousCapture") {
      throw new OutcomeError(409, "NOT_ASYNCHRONOUS", "a synchronous capture is final when answered");
    }
    if (record.state === "DECIDED") {
      if (sameOutcome(record.outcome, outcome)) return { record, repeated: true };
      if (record.outcome?.kind === "EXPIRED") throw expired();
      throw new OutcomeError(
        409,
        "ALREADY_DECIDED",
        "this capture already has another outcome, and outcomes are final",
      );
    }
    const written = await decideBeforeDeadline(deps, record, outcome);
    if (written.kind === "COMMITTED") {
      await enqueueNotification(deps, written.decided);
      return { record: written.decided, repeated: false };
    }
    // Our own expiry committed: that is the answer. Anything else: read what did commit and answer from it.
    if (written.kind === "EXPIRED") throw expired();
    // NOT_PENDING: someone decided or expired it meanwhile, read it again. STALE: the ledger moved, decide again.
    if (written.kind === "STALE") {
      await pauseAfterContention(`outcome of ${key}`, attempt, deps.now(), deadlineMs);
    }
  }
}

/**
 * Decides and commits the outcome if the deadline has not passed, else expires the capture. The
 * deadline is judged with the clock read after the ledger read, the one the conditional write uses.
 */
async function decideBeforeDeadline(
  deps: OutcomeDeps,
  record: CaptureRecord,
  outcome: RecordedOutcome,
): Promise<{ kind: "COMMITTED"; decided: CaptureRecord } | { kind: "EXPIRED" | "STALE" | "NOT_PENDING" }> {
  let now = deps.now();
  if (now < record.deadlineMs!) {
    const { captureResult, debit } = await decideOutcome(deps, record, outcome, now);
    now = deps.now();
    if (now < record.deadlineMs!) {
      const decided = decidedRecord(deps, record, outcome, captureResult, now);
      const written = await deps.store.decide(decided, debit, now);
      return written === "COMMITTED" ? { kind: "COMMITTED", decided } : { kind: written };
    }
  }
  return (await expireCapture(deps, record, now)) ? { kind: "EXPIRED" } : { kind: "NOT_PENDING" };
}

const expired = () =>
  new OutcomeError(
    409,
    "CAPTURE_EXPIRED",
    "the capture's deadline has passed; Google was told CAPTURE_REQUEST_EXPIRED",
  );

async function decideOutcome(
  deps: OutcomeDeps,
  record: CaptureRecord,
  outcome: RecordedOutcome,
  now: number,
): Promise<{ captureResult: NotificationCaptureResult; debit: Debit | undefined }> {
  if (outcome.kind === "FAILED") {
    return {
      captureResult: { captureResultCode: outcome.captureResultCode, rawResult: outcome.rawResult },
      debit: undefined,
    };
  }
  const periods = periodsAt(now, deps.ledgerTimeZone);
  const facts = await deps.store.readFacts(record, periods);
  const request = asCaptureRequest({
    requestHeader: {
      protocolVersion: { major: 1, minor: 0, revision: 0 },
      requestId: record.requestId,
      requestTimestamp: String(now),
    },
    paymentIntegratorAccountId: record.paymentIntegratorAccountId,
    transactionDescription: record.transactionDescription,
    currencyCode: record.currencyCode,
    amount: record.amount,
    fop:
      record.instrumentKind === "VPA" ? { kind: "VPA", vpa: "" } : { kind: "TOKEN", googlePaymentToken: "" },
  });
  let decision: ReturnType<typeof decideCapture>;
  try {
    decision = decideCapture(request, facts, now, deps.riskRule);
  } catch (error) {
    // The instrument or account vanished since the acknowledgement: a decline, not a fault.
    if (!(error instanceof ProtocolError)) throw error;
    decision = { result: "ACCOUNT_CLOSED", rawCode: "INSTRUMENT_GONE", consumeOtp: false };
  }
  const captureResult: NotificationCaptureResult = {
    captureResultCode: notificationResultOf(decision.result, decision.rawCode),
  };
  if (decision.result !== "SUCCESS") captureResult.rawResult = { scope: "LEDGER", rawCode: decision.rawCode };
  if (decision.result === "CHARGE_EXCEEDS_TRANSACTION_LIMIT")
    captureResult.transactionMaxLimit = decision.transactionLimit!.toString();
  if (decision.result === "CHARGE_UNDER_LIMIT") {
    captureResult.transactionMinLimit =
      facts.account!.currencies[record.currencyCode]!.limits.transactionMin!.toString();
  }
  if (decision.result === "INSUFFICIENT_FUNDS")
    captureResult.currentBalance = decision.currentBalance!.toString();
  const debit = decision.result === "SUCCESS" ? { request, facts, periods } : undefined;
  return { captureResult, debit };
}

function decidedRecord(
  deps: Pick<OutcomeDeps, "newRequestId">,
  record: CaptureRecord,
  outcome: RecordedOutcome,
  captureResult: NotificationCaptureResult,
  now: number,
): CaptureRecord {
  return {
    ...record,
    state: "DECIDED",
    outcome,
    notification: {
      requestId: deps.newRequestId(),
      captureResult,
      state: "OWED",
      enqueued: false,
      decidedAtMs: now,
      attempts: [],
    },
  };
}

/** Past its deadline a PENDING capture becomes CAPTURE_REQUEST_EXPIRED, and Google is told; no money moves after. */
export async function expireCapture(deps: OutcomeDeps, record: CaptureRecord, now: number): Promise<boolean> {
  const captureResult: NotificationCaptureResult = {
    captureResultCode: "CAPTURE_REQUEST_EXPIRED",
    rawResult: { scope: "LEDGER", rawCode: "DEADLINE_PASSED" },
  };
  const decided = decidedRecord(deps, record, { kind: "EXPIRED" }, captureResult, now);
  if ((await deps.store.decide(decided, undefined, now)) !== "COMMITTED") return false;
  await enqueueNotification(deps, decided);
  return true;
}

/** A capture's captureResultNotification on the queue (see `enqueueOwed`). */
export const enqueueNotification = (deps: Pick<OutcomeDeps, "queue" | "store">, record: CaptureRecord) =>
  enqueueOwed(deps.queue, deps.store, record.key, {
    paymentIntegratorAccountId: record.paymentIntegratorAccountId,
    captureRequestId: record.requestId,
  });
