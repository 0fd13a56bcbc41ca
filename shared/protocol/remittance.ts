import * as v from "valibot";
import { CLOCK_SKEW_MS, currencyCode, identifier, jsonObject, parseWith, RequestHeader } from "./common.ts";
import { INT64_MAX } from "./money.ts";

/**
 * Remittance (gsp-protocol.md, "Remittance"): Google's statement notification, the details pages we
 * fetch, and the acceptance we send. Event member names are partly unconfirmed: they are mapped in
 * EVENT_MEMBERS and EVENT_LISTS only, and everything unknown is ignored.
 */

const epochMillis = v.pipe(v.string(), v.regex(/^[0-9]{1,16}$/, "must be epoch milliseconds"));

/** A signed int64 of micros (a statement may be in the integrator's favour). */
export const parseSignedMicros = (value: unknown): bigint | undefined => {
  if (typeof value !== "string" || !/^-?(0|[1-9][0-9]{0,18})$/.test(value)) return undefined;
  const micros = BigInt(value);
  return micros <= INT64_MAX && micros >= -INT64_MAX - 1n ? micros : undefined;
};
const signedMicros = v.pipe(
  v.string(),
  v.check((s) => parseSignedMicros(s) !== undefined, "must be a signed int64 of micros"),
  v.transform((s) => BigInt(s)),
);

const RemittanceStatementSummary = jsonObject({
  statementDate: epochMillis,
  billingPeriod: jsonObject({ startDate: epochMillis, endDate: epochMillis }),
  dateDue: epochMillis,
  currencyCode,
  totalDueByIntegrator: signedMicros,
  remittanceInstructions: jsonObject({ memoLineId: identifier }),
});

const RemittanceStatementNotificationSchema = v.pipe(
  jsonObject({
    requestHeader: RequestHeader,
    paymentIntegratorAccountId: identifier,
    remittanceStatementSummary: RemittanceStatementSummary,
  }),
  v.check(
    (r) =>
      Number(r.remittanceStatementSummary.billingPeriod.startDate) <=
      Number(r.remittanceStatementSummary.billingPeriod.endDate),
    "remittanceStatementSummary.billingPeriod ends before it starts",
  ),
);
export type RemittanceStatementNotificationRequest = v.InferOutput<
  typeof RemittanceStatementNotificationSchema
>;

/** Validates a decrypted remittanceStatementNotification; unknown members are ignored (forward compatibility). */
export function parseRemittanceStatementNotification(
  body: Record<string, unknown>,
): RemittanceStatementNotificationRequest {
  return parseWith(RemittanceStatementNotificationSchema, body);
}

/** The 200 answer (responseHeader added when it is sent). */
export interface RemittanceStatementNotificationResponse extends Record<string, unknown> {
  paymentIntegratorStatementId: string;
  result: "ACCEPTED";
}

/** What the statement says, as we keep it (money as bigint). */
export interface StatementSummary {
  statementDate: string;
  startDate: string;
  endDate: string;
  dateDue: string;
  currencyCode: string;
  totalDueByIntegrator: bigint;
  memoLineId: string;
}

export const summaryOf = (s: RemittanceStatementNotificationRequest["remittanceStatementSummary"]) => ({
  statementDate: s.statementDate,
  startDate: s.billingPeriod.startDate,
  endDate: s.billingPeriod.endDate,
  dateDue: s.dateDue,
  currencyCode: s.currencyCode,
  totalDueByIntegrator: s.totalDueByIntegrator,
  memoLineId: s.remittanceInstructions.memoLineId,
});

/** Google's default (and largest) page of remittanceStatementDetails. */
export const DETAILS_PAGE_SIZE = 1000;

export type EventKind = "CAPTURE" | "REFUND" | "REVERSE_REFUND" | "CHARGEBACK" | "REVERSE_CHARGEBACK";

/** The event lists of a details page and the kind of each: the ONE place their names live. */
export const EVENT_LISTS: Record<string, EventKind> = {
  captureEvents: "CAPTURE",
  refundEvents: "REFUND",
  reverseRefundEvents: "REVERSE_REFUND",
  chargebackEvents: "CHARGEBACK",
  reverseChargebackEvents: "REVERSE_CHARGEBACK",
};

/** An event's members, first name wins: the ONE place to correct when Google's names are confirmed. */
export const EVENT_MEMBERS = {
  eventRequestId: ["eventRequestId", "requestId"],
  paymentIntegratorEventId: ["paymentIntegratorEventId", "paymentIntegratorTransactionId"],
  eventCharge: ["eventCharge", "charge"],
  eventFee: ["eventFee", "fee"],
} as const;

export interface StatementEvent {
  kind: EventKind;
  /** Google's requestId of the capture or refund. */
  eventRequestId: string;
  /** Our transaction or refund id, when Google sends it. */
  paymentIntegratorEventId: string | undefined;
  /** Positive: money the integrator owes Google; negative: the reverse. */
  eventCharge: bigint;
  eventFee: bigint;
}

export interface DetailsPage {
  eventOffset: number;
  nextEventOffset: number | undefined;
  totalEvents: number;
  currencyCode: string | undefined;
  totalDueByIntegrator: bigint | undefined;
  events: StatementEvent[];
  responseTimestamp: string;
}

const member = (o: Record<string, unknown>, names: readonly string[]) =>
  names.map((n) => o[n]).find((x) => x !== undefined && x !== null);

const offset = (x: unknown): number | undefined => {
  const n = typeof x === "string" && /^[0-9]{1,9}$/.test(x) ? Number(x) : x;
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * A details page, read leniently (unknown members ignored, numbers as numbers or strings), or the
 * reason it cannot be used. The reason names members, never values.
 */
export function parseDetailsPage(body: unknown): { page: DetailsPage } | { refused: string } {
  if (!isObject(body)) return { refused: "page is not a JSON object" };
  const header = body.responseHeader;
  const responseTimestamp = isObject(header) ? header.responseTimestamp : undefined;
  if (typeof responseTimestamp !== "string" || !/^[0-9]{1,16}$/.test(responseTimestamp)) {
    return { refused: "page has no responseHeader.responseTimestamp" };
  }
  const eventOffset = offset(body.eventOffset);
  const totalEvents = offset(body.totalEvents);
  if (eventOffset === undefined) return { refused: "page has no valid eventOffset" };
  if (totalEvents === undefined) return { refused: "page has no valid totalEvents" };
  let nextEventOffset: number | undefined;
  if (body.nextEventOffset !== undefined && body.nextEventOffset !== null) {
    nextEventOffset = offset(body.nextEventOffset);
    if (nextEventOffset === undefined) return { refused: "page has an invalid nextEventOffset" };
  }
  const summary = isObject(body.remittanceStatementSummary) ? body.remittanceStatementSummary : undefined;
  const totalDue = summary?.totalDueByIntegrator;
  const totalDueByIntegrator = totalDue === undefined ? undefined : parseSignedMicros(totalDue);
  if (totalDue !== undefined && totalDueByIntegrator === undefined) {
    return { refused: "page's remittanceStatementSummary.totalDueByIntegrator is not int64 micros" };
  }
  const events: StatementEvent[] = [];
  for (const [list, kind] of Object.entries(EVENT_LISTS)) {
    const raw = body[list];
    if (raw === undefined || raw === null) continue;
    if (!Array.isArray(raw)) return { refused: `page's ${list} is not a list` };
    for (const [i, e] of raw.entries()) {
      if (!isObject(e)) return { refused: `page's ${list}[${i}] is not an object` };
      const eventRequestId = member(e, EVENT_MEMBERS.eventRequestId);
      const ourId = member(e, EVENT_MEMBERS.paymentIntegratorEventId);
      const eventCharge = parseSignedMicros(member(e, EVENT_MEMBERS.eventCharge));
      const fee = member(e, EVENT_MEMBERS.eventFee);
      const eventFee = fee === undefined ? 0n : parseSignedMicros(fee);
      if (typeof eventRequestId !== "string" || !/^[a-zA-Z0-9:_-]{1,100}$/.test(eventRequestId)) {
        return { refused: `page's ${list}[${i}].eventRequestId is missing or not a requestId` };
      }
      if (ourId !== undefined && (typeof ourId !== "string" || ourId.length > 1024)) {
        return { refused: `page's ${list}[${i}].paymentIntegratorEventId is not an identifier` };
      }
      if (eventCharge === undefined)
        return { refused: `page's ${list}[${i}].eventCharge is not int64 micros` };
      if (eventFee === undefined) return { refused: `page's ${list}[${i}].eventFee is not int64 micros` };
      events.push({ kind, eventRequestId, paymentIntegratorEventId: ourId, eventCharge, eventFee });
    }
  }
  return {
    page: {
      eventOffset,
      nextEventOffset,
      totalEvents,
      currencyCode: typeof summary?.currencyCode === "string" ? summary.currencyCode : undefined,
      totalDueByIntegrator,
      events,
      responseTimestamp,
    },
  };
}

/** A page's responseTimestamp is within ±60 s of our clock. */
export const freshPage = (page: DetailsPage, nowMs: number) =>
  Math.abs(Number(page.responseTimestamp) - nowMs) <= CLOCK_SKEW_MS;

/** acceptRemittanceStatement's answer: SUCCESS, nothing else. */
export const AcceptRemittanceStatementResponse = v.object({
  responseHeader: v.object({ responseTimestamp: epochMillis }),
  acceptRemittanceStatementResultCode: v.literal("SUCCESS"),
});

/** The requests we send (our requestId, fresh requestTimestamp). */
export const detailsRequest = (
  requestId: string,
  piaid: string,
  statementId: string,
  eventOffset: number,
  now: number,
  numberOfEvents = DETAILS_PAGE_SIZE,
) => ({
  requestHeader: header(requestId, now),
  paymentIntegratorAccountId: piaid,
  statementId,
  numberOfEvents,
  eventOffset,
});

export const acceptRequest = (requestId: string, piaid: string, statementId: string, now: number) => ({
  requestHeader: header(requestId, now),
  paymentIntegratorAccountId: piaid,
  statementId,
});

const header = (requestId: string, now: number) => ({
  protocolVersion: { major: 1, minor: 0, revision: 0 },
  requestId,
  requestTimestamp: String(now),
});

/** What the stand-in Google validates our details and accept requests against. */
export const RemittanceStatementDetailsRequest = v.object({
  requestHeader: RequestHeader,
  paymentIntegratorAccountId: identifier,
  statementId: identifier,
  numberOfEvents: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(DETAILS_PAGE_SIZE)),
  eventOffset: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export const AcceptRemittanceStatementRequest = v.object({
  requestHeader: RequestHeader,
  paymentIntegratorAccountId: identifier,
  statementId: identifier,
});
