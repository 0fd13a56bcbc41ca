import * as v from "valibot";
import {
  AcceptRemittanceStatementRequest,
  RemittanceStatementDetailsRequest,
} from "../../shared/protocol/remittance.ts";

/**
 * The stand-in Google's remittance desk: it builds statements from the money movements a test (or
 * `npm run google -- remittanceStatement`) gives it, with fees by a rule, serves their details in
 * pages, records acceptances, and lies on request.
 */

/** A money movement as Google saw it: the requestId it sent, our id in the answer, the amount. */
export interface SeenMovement {
  requestId: string;
  paymentIntegratorId: string;
  amount: bigint;
}

export interface StatementEventJson {
  eventRequestId: string;
  paymentIntegratorEventId: string;
  eventCharge: string;
  eventFee: string;
}

/** Broken pages the desk can serve, to prove the integrator refuses each. */
export type PageFault =
  | "UNSIGNED"
  | "UNKNOWN_SIGNER"
  | "MALFORMED"
  | "REPEAT_OFFSET"
  | "NEVER_ENDS"
  | "WRONG_TOTAL"
  | "NOT_FOUND_EMPTY";

export interface DeskStatement {
  paymentIntegratorAccountId: string;
  statementId: string;
  /** The remittanceStatementNotification's body without its requestHeader. */
  summary: {
    statementDate: string;
    billingPeriod: { startDate: string; endDate: string };
    dateDue: string;
    currencyCode: string;
    totalDueByIntegrator: string;
    remittanceInstructions: { memoLineId: string };
  };
  captureEvents: StatementEventJson[];
  refundEvents: StatementEventJson[];
  fault?: PageFault;
  /** How many more pages to serve with the fault (all, when undefined). */
  faultPages?: number;
}

export interface StatementArgs {
  piaid: string;
  statementId: string;
  currencyCode: string;
  fromMs: number;
  toMs: number;
  captures: SeenMovement[];
  refunds: SeenMovement[];
  /** Fee rule: Google pays the integrator `feeBps` basis points of each charge (a negative fee), truncated. */
  feeBps?: number;
  /** Lies: drop an event, change an amount, add an event nobody made. */
  lie?: {
    dropCapture?: number;
    changeCaptureAmount?: { index: number; by: bigint };
    addUnknownCapture?: string;
  };
  /** Make the summary's total wrong by this much. */
  totalOffBy?: bigint;
  dueInDays?: number;
}

const feeOf = (charge: bigint, feeBps: number) => -((charge * BigInt(feeBps)) / 10_000n);

/** A statement as Google would issue it for these movements (and these lies). */
export function buildStatement(a: StatementArgs): DeskStatement {
  const feeBps = a.feeBps ?? 0;
  const event = (m: SeenMovement, sign: bigint): StatementEventJson => ({
    eventRequestId: m.requestId,
    paymentIntegratorEventId: m.paymentIntegratorId,
    eventCharge: (sign * m.amount).toString(),
    eventFee: feeOf(sign * m.amount, feeBps).toString(),
  });
  const captureEvents = a.captures.map((m) => event(m, 1n));
  const refundEvents = a.refunds.map((m) => event(m, -1n));
  const lie = a.lie ?? {};
  if (lie.changeCaptureAmount) {
    const e = captureEvents[lie.changeCaptureAmount.index]!;
    e.eventCharge = (BigInt(e.eventCharge) + lie.changeCaptureAmount.by).toString();
  }
  if (lie.dropCapture !== undefined) captureEvents.splice(lie.dropCapture, 1);
  if (lie.addUnknownCapture) {
    captureEvents.push(
      event({ requestId: lie.addUnknownCapture, paymentIntegratorId: "unknown", amount: 1_000_000n }, 1n),
    );
  }
  const total = [...captureEvents, ...refundEvents].reduce(
    (sum, e) => sum + BigInt(e.eventCharge) + BigInt(e.eventFee),
    a.totalOffBy ?? 0n,
  );
  return {
    paymentIntegratorAccountId: a.piaid,
    statementId: a.statementId,
    summary: {
      statementDate: String(a.toMs),
      billingPeriod: { startDate: String(a.fromMs), endDate: String(a.toMs - 1) },
      dateDue: String(a.toMs + (a.dueInDays ?? 2) * 86_400_000),
      currencyCode: a.currencyCode,
      totalDueByIntegrator: total.toString(),
      remittanceInstructions: { memoLineId: `memo-${a.statementId}` },
    },
    captureEvents,
    refundEvents,
  };
}

/** The notification Google sends for a statement (its requestId is the statement id). */
export const statementNotificationBody = (s: DeskStatement, now = Date.now()) => ({
  requestHeader: {
    protocolVersion: { major: 1, minor: 0, revision: 0 },
    requestId: s.statementId,
    requestTimestamp: String(now),
  },
  paymentIntegratorAccountId: s.paymentIntegratorAccountId,
  remittanceStatementSummary: s.summary,
});

export interface DeskAnswer {
  status: number;
  body?: Record<string, unknown>;
  /** How to seal it: normally, unsigned, or signed by a key the integrator does not know. */
  sealing?: "UNSIGNED" | "UNKNOWN_SIGNER";
}

export interface StatementDesk {
  statements: Map<string, DeskStatement>;
  /** Statement ids in the order they were accepted (every accept call, retries included). */
  accepted: string[];
  /** Every details request served, in order. */
  detailsRequests: { statementId: string; eventOffset: number }[];
  add(statement: DeskStatement): void;
  handle(method: string, piaid: string, body: unknown): DeskAnswer | undefined;
}

export function createStatementDesk(): StatementDesk {
  const statements = new Map<string, DeskStatement>();
  const accepted: string[] = [];
  const detailsRequests: StatementDesk["detailsRequests"] = [];
  const keyOf = (piaid: string, id: string) => `${piaid}#${id}`;
  return {
    statements,
    accepted,
    detailsRequests,
    add(s) {
      statements.set(keyOf(s.paymentIntegratorAccountId, s.statementId), s);
    },
    handle(method, piaid, body) {
      if (method === "acceptRemittanceStatement") {
        const parsed = v.safeParse(AcceptRemittanceStatementRequest, body);
        if (!parsed.success) return { status: 400, body: { errorResponseCode: "INVALID_FIELD_VALUE" } };
        if (!statements.has(keyOf(piaid, parsed.output.statementId))) return { status: 404 };
        accepted.push(parsed.output.statementId);
        return { status: 200, body: { acceptRemittanceStatementResultCode: "SUCCESS" } };
      }
      if (method !== "remittanceStatementDetails") return undefined;
      const parsed = v.safeParse(RemittanceStatementDetailsRequest, body);
      if (!parsed.success) return { status: 400, body: { errorResponseCode: "INVALID_FIELD_VALUE" } };
      const { statementId, eventOffset, numberOfEvents } = parsed.output;
      const s = statements.get(keyOf(piaid, statementId));
      if (!s) return { status: 404 };
      detailsRequests.push({ statementId, eventOffset });
      const all = [
        ...s.captureEvents.map((e) => ["captureEvents", e] as const),
        ...s.refundEvents.map((e) => ["refundEvents", e] as const),
      ];
      const slice = all.slice(eventOffset, eventOffset + numberOfEvents);
      const next = eventOffset + slice.length;
      const page: Record<string, unknown> = {
        eventOffset,
        ...(next < all.length && { nextEventOffset: next }),
        totalEvents: all.length,
        remittanceStatementSummary: s.summary,
        captureEvents: slice.filter(([l]) => l === "captureEvents").map(([, e]) => e),
        refundEvents: slice.filter(([l]) => l === "refundEvents").map(([, e]) => e),
      };
      const fault = s.fault && (s.faultPages === undefined || s.faultPages > 0) ? s.fault : undefined;
      if (fault && s.faultPages !== undefined) s.faultPages -= 1;
      switch (fault) {
        case "UNSIGNED":
        case "UNKNOWN_SIGNER":
          return { status: 200, body: page, sealing: fault };
        case "NOT_FOUND_EMPTY":
          return { status: 404 };
        case "MALFORMED":
          return { status: 200, body: { ...page, captureEvents: { not: "a list" } } };
        case "REPEAT_OFFSET":
          return { status: 200, body: { ...page, eventOffset: 0, nextEventOffset: numberOfEvents } };
        case "NEVER_ENDS":
          return { status: 200, body: { ...page, nextEventOffset: eventOffset } };
        case "WRONG_TOTAL":
          return { status: 200, body: { ...page, totalEvents: all.length + 1 } };
        default:
          return { status: 200, body: page };
      }
    },
  };
}
