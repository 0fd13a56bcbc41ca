import { checkRequestHeader } from "../protocol/common.ts";
import { invalidField, ProtocolError, unknownIdentifier } from "../protocol/errors.ts";
import {
  parseRefundRequest,
  type RefundRequest,
  type RefundResponse,
  type RefundResultCode,
} from "../protocol/refund.ts";
import { ACCOUNT_STATUS_RESULT } from "./capture-decision.ts";
import type {
  CaptureRecord,
  DeliveryAttempt,
  NotificationQueue,
  OwedNotification,
} from "./capture-record.ts";
import { checkContract, type DueOptions, type DuePage, replay, stamp } from "./capture-service.ts";
import { pauseAfterContention } from "./contention.ts";
import { idempotencyKey, requestFingerprint } from "./idempotency.ts";
import type { Account } from "./ledger.ts";
import { enqueueOwed } from "./owed-notification.ts";

/**
 * POST /v1/refund: gives back part or all of a capture that moved money, to the account it was taken
 * from, in one atomic write of the refund record, the capture's refunded total and the credit.
 */

/** The refundResultNotification a refund owes Google: the same lifecycle as a capture's notification. */
export type RefundNotification = OwedNotification;

/** One record per (PIAID, refund requestId): idempotency record, financial record, owed notification. */
export interface RefundRecord {
  key: string;
  paymentIntegratorAccountId: string;
  requestId: string;
  fingerprint: string;
  paymentIntegratorRefundId: string;
  /** Google's requestId of the capture refunded, and that capture's record key. */
  captureRequestId: string;
  captureKey: string;
  /** The 200 body we answered (without responseHeader), replayed to retries. */
  response: RefundResponse;
  amount: bigint;
  currencyCode: string;
  accountId: string;
  createdAtMs: number;
  /** Absent where the environment does not send refundResultNotification. */
  notification?: RefundNotification;
}

/** What a refund reads in its one round trip: its own key (a replay) and the capture it refunds. */
export interface RefundSnapshot {
  refund: RefundRecord | undefined;
  capture: CaptureRecord | undefined;
}

/** Money going back: the capture's refunded total as read (the write holds it) and the account to credit. */
export interface Credit {
  captureKey: string;
  refundedBefore: bigint;
  capturedAmount: bigint;
  accountId: string;
  currencyCode: string;
  amount: bigint;
}

export type RefundWriteOutcome =
  | { kind: "COMMITTED" }
  /** Another request with this key committed first; its record, when the store returned it. */
  | { kind: "KEY_TAKEN"; record: RefundRecord | undefined }
  /** The capture's refunded total moved since it was read: decide again. */
  | { kind: "STALE" }
  /** The account cannot receive money now; the account as it is, when the store returned it. */
  | { kind: "ACCOUNT_REFUSED"; account: Account | undefined };

export interface RefundStore {
  read(refundKey: string, captureKey: string): Promise<RefundSnapshot>;
  /** Records the refund, with its credit when it is a SUCCESS, in one transaction. */
  write(record: RefundRecord, credit: Credit | undefined): Promise<RefundWriteOutcome>;
  get(key: string): Promise<RefundRecord | undefined>;
  readAccount(accountId: string): Promise<Account | undefined>;
  /** The notification is on the queue: the sweeper need not look at this record again. */
  markEnqueued(key: string): Promise<void>;
  recordDelivery(key: string, attempt: DeliveryAttempt, delivered: boolean): Promise<void>;
  /** Refunds whose notification nobody is known to have enqueued (the sweeper's). */
  due(nowMs: number, options?: DueOptions): Promise<DuePage<RefundRecord>>;
}

export interface RefundDeps {
  store: RefundStore;
  piaids: Readonly<Record<string, string>>;
  now: () => number;
  newRefundId: () => string;
  /** Our requestId for the refundResultNotification; absent: this environment does not send them. */
  newNotificationRequestId?: () => string;
  queue: NotificationQueue;
}

export interface RefundOutcome {
  response: RefundResponse & { responseHeader: { responseTimestamp: string } };
  replayed: boolean;
  lostRace: boolean;
  attempts: number;
  record: RefundRecord | undefined;
}

/** A capture moved money if it answered SUCCESS, or its asynchronous outcome was a SUCCESS. */
export const capturedMoney = (capture: CaptureRecord): boolean =>
  capture.method === "capture"
    ? capture.response.result === "SUCCESS"
    : capture.state === "DECIDED" && capture.notification?.captureResult.captureResultCode === "SUCCESS";

/** The capture's refunded total so far (recorded on the capture by every successful refund). */
export const refundedSoFar = (capture: CaptureRecord): bigint => capture.refundedAmount ?? 0n;

/**
 * What the protocol refuses before any money moves: an unknown capture (Google retries: it may not have
 * reached us yet), one that moved no money, another currency, more than what remains unrefunded.
 */
export function checkRefundable(request: RefundRequest, capture: CaptureRecord | undefined): CaptureRecord {
  if (!capture) throw unknownIdentifier("captureRequestId");
  if (!capturedMoney(capture)) {
    throw new ProtocolError("PRECONDITION_VIOLATION", "the capture moved no money: nothing to refund");
  }
  if (request.currencyCode !== capture.currencyCode) {
    throw invalidField("currencyCode", "is not the currency of the capture");
  }
  if (request.refundAmount > capture.amount - refundedSoFar(capture)) {
    throw new ProtocolError(
      "PRECONDITION_VIOLATION",
      "refundAmount exceeds what remains unrefunded on the capture",
    );
  }
  return capture;
}

export interface RefundDecline {
  result: Exclude<RefundResultCode, "SUCCESS">;
  rawCode: string;
}

/** The result an account that cannot receive money gets (every non-ACTIVE status has one), as capture words it. */
export const refundDeclineOf = (account: Account): RefundDecline | undefined =>
  account.status === "ACTIVE"
    ? undefined
    : { result: ACCOUNT_STATUS_RESULT[account.status], rawCode: `ACCOUNT_${account.status}` };

export async function refund(
  deps: RefundDeps,
  body: Record<string, unknown>,
  deadlineMs = Number.POSITIVE_INFINITY,
): Promise<RefundOutcome> {
  const header = checkRequestHeader(body, deps.now());
  const request = parseRefundRequest(body);
  checkContract(deps, request);
  const key = idempotencyKey(request.paymentIntegratorAccountId, header.requestId);
  const captureKey = idempotencyKey(request.paymentIntegratorAccountId, request.captureRequestId);
  const fingerprint = requestFingerprint("refund", body);
  let declined: RefundDecline | undefined;
  let readAlready: RefundSnapshot | undefined;
  for (let attempt = 1; ; attempt++) {
    const snapshot = readAlready ?? (await deps.store.read(key, captureKey));
    readAlready = undefined;
    if (snapshot.refund) {
      const response = replay(snapshot.refund, fingerprint, deps.now());
      return { response, replayed: true, lostRace: attempt > 1, attempts: attempt, record: snapshot.refund };
    }
    let capture: CaptureRecord;
    try {
      capture = checkRefundable(request, snapshot.capture);
    } catch (refusal) {
      // The one read is not isolated from a concurrent duplicate's transaction: it can miss this key's
      // record yet see the capture's refunded total that already counts it. Before refusing, look again.
      const byRefunds =
        refusal instanceof ProtocolError && snapshot.capture && capturedMoney(snapshot.capture);
      const committed = byRefunds ? await deps.store.get(key) : undefined;
      if (!committed) throw refusal;
      const response = replay(committed, fingerprint, deps.now());
      return { response, replayed: true, lostRace: true, attempts: attempt, record: committed };
    }
    const record = refundRecord(deps, request, key, fingerprint, capture, declined);
    const credit: Credit | undefined = declined
      ? undefined
      : {
          captureKey,
          refundedBefore: refundedSoFar(capture),
          capturedAmount: capture.amount,
          accountId: capture.accountId,
          currencyCode: capture.currencyCode,
          amount: request.refundAmount,
        };
    const outcome = await deps.store.write(record, credit);
    if (outcome.kind === "COMMITTED") {
      if (record.notification) await enqueueRefundNotification(deps, record);
      return {
        response: stamp(record.response, deps.now()),
        replayed: false,
        lostRace: false,
        attempts: attempt,
        record,
      };
    }
    if (outcome.kind === "KEY_TAKEN" && outcome.record) {
      const response = replay(outcome.record, fingerprint, deps.now());
      return { response, replayed: true, lostRace: true, attempts: attempt, record: outcome.record };
    }
    if (outcome.kind === "ACCOUNT_REFUSED") {
      const account = outcome.account ?? (await deps.store.readAccount(capture.accountId));
      if (!account?.currencies[capture.currencyCode]) {
        throw new Error(`refund ${key}: the captured account or its currency is gone from the ledger`);
      }
      // Refused for a status that has since become ACTIVE again: try the credit once more.
      declined = refundDeclineOf(account);
      if (declined) {
        // The cancelled transaction proved the key free and the capture as read: record the decline on
        // that same read (a refund key taken meanwhile fails the Put and is answered as its replay).
        readAlready = snapshot;
        continue;
      }
    }
    await pauseAfterContention(`refund ${key}`, attempt, deps.now(), deadlineMs);
  }
}

function refundRecord(
  deps: RefundDeps,
  request: RefundRequest,
  key: string,
  fingerprint: string,
  capture: CaptureRecord,
  declined: RefundDecline | undefined,
): RefundRecord {
  const now = deps.now();
  const paymentIntegratorRefundId = deps.newRefundId();
  const response: RefundResponse = declined
    ? {
        paymentIntegratorRefundId,
        result: declined.result,
        rawResult: { scope: "LEDGER", rawCode: declined.rawCode },
      }
    : { paymentIntegratorRefundId, result: "SUCCESS" };
  return {
    key,
    paymentIntegratorAccountId: request.paymentIntegratorAccountId,
    requestId: request.requestHeader.requestId,
    fingerprint,
    paymentIntegratorRefundId,
    captureRequestId: request.captureRequestId,
    captureKey: capture.key,
    response,
    amount: request.refundAmount,
    currencyCode: request.currencyCode,
    accountId: capture.accountId,
    createdAtMs: now,
    ...(deps.newNotificationRequestId && {
      notification: {
        requestId: deps.newNotificationRequestId(),
        state: "OWED" as const,
        enqueued: false,
        decidedAtMs: now,
        attempts: [],
      },
    }),
  };
}

/** The refund's refundResultNotification on the queue (see `enqueueOwed`). */
export const enqueueRefundNotification = (
  deps: { queue: NotificationQueue; store: Pick<RefundStore, "markEnqueued"> },
  record: RefundRecord,
) =>
  enqueueOwed(deps.queue, deps.store, record.key, {
    paymentIntegratorAccountId: record.paymentIntegratorAccountId,
    refundRequestId: record.requestId,
  });
