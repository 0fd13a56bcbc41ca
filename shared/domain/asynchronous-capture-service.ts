import type {
  AsynchronousCaptureRequest,
  AsynchronousCaptureResultCode,
} from "../protocol/asynchronous-capture.ts";
import { parseAsynchronousCaptureRequest } from "../protocol/asynchronous-capture.ts";
import type { CaptureRequest } from "../protocol/capture.ts";
import { unknownIdentifier } from "../protocol/errors.ts";
import { ACCOUNT_STATUS_RESULT, instrumentKindName } from "./capture-decision.ts";
import {
  type CaptureDeps,
  type CaptureOutcome,
  captureRecord,
  decideOnce,
  validOrReplay,
} from "./capture-service.ts";

export interface AsynchronousCaptureDeps extends CaptureDeps {
  /** How long the customer has to complete the payment (e.g. enter the UPI PIN). */
  captureDeadlineMs: number;
}

export type AsynchronousCaptureResponse = {
  paymentIntegratorTransactionId: string;
  result: AsynchronousCaptureResultCode;
};

/** The same request in the shape the ledger rules read (an asynchronous capture has no account verification). */
export const asCaptureRequest = (r: AsynchronousCaptureRequest): CaptureRequest => ({
  ...r,
  verification: { kind: "NONE" },
});

/**
 * POST /v1/asynchronousCapture: an account that cannot pay at all is declined at once (no
 * notification follows); otherwise the capture is recorded PENDING with its deadline and
 * acknowledged. No money moves until the outcome is recorded.
 */
export async function asynchronousCapture(
  deps: AsynchronousCaptureDeps,
  body: unknown,
  deadlineMs = Number.POSITIVE_INFINITY,
): Promise<CaptureOutcome<AsynchronousCaptureResponse>> {
  const valid = await validOrReplay<AsynchronousCaptureRequest, AsynchronousCaptureResponse>(
    deps,
    "asynchronousCapture",
    body,
    parseAsynchronousCaptureRequest,
  );
  if ("replayed" in valid) return valid.replayed;
  const { request, key, fingerprints } = valid;
  const fingerprint = fingerprints[0]!;
  const captureRequest = asCaptureRequest(request);
  const outcome = await decideOnce<AsynchronousCaptureResponse>(
    deps,
    key,
    fingerprints,
    captureRequest,
    deadlineMs,
    (snapshot, now) => {
      const { instrument, account } = snapshot.facts;
      if (!instrument || !account) throw unknownIdentifier(instrumentKindName(request.fop));
      const result: AsynchronousCaptureResultCode =
        account.status === "ACTIVE" ? "ACKNOWLEDGED" : ACCOUNT_STATUS_RESULT[account.status];
      const paymentIntegratorTransactionId = deps.newTransactionId();
      const record = captureRecord(
        captureRequest,
        key,
        fingerprint,
        snapshot.facts,
        paymentIntegratorTransactionId,
        now,
        {
          method: "asynchronousCapture",
          response: { paymentIntegratorTransactionId, result },
          state: result === "ACKNOWLEDGED" ? "PENDING" : "DECIDED",
          ...(result === "ACKNOWLEDGED" && { deadlineMs: now + deps.captureDeadlineMs }),
        },
      );
      return { record, debit: undefined };
    },
  );
  return outcome;
}
