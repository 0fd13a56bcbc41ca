import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as v from "valibot";
import { CaptureResultNotificationRequest } from "../../shared/protocol/capture-result-notification.ts";
import { CLOCK_SKEW_MS } from "../../shared/protocol/common.ts";
import { RefundResultNotificationRequest } from "../../shared/protocol/refund.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import type { Keyring } from "../../shared/security/keyring.ts";
import {
  buildStatement,
  createStatementDesk,
  type DeskAnswer,
  type DeskStatement,
  type SeenMovement,
  type StatementDesk,
} from "./google-statements.ts";

/** A money movement the Google client saw answered SUCCESS (or ACKNOWLEDGED), as it journals it. */
export interface SeenByClient {
  kind: "capture" | "asynchronousCapture" | "refund";
  piaid: string;
  requestId: string;
  paymentIntegratorId: string;
  /** int64 micros. */
  amount: string;
  atMs: number;
}

/** What `npm run google -- remittanceStatement` asks the stand-in for. */
export interface IssueRequest {
  piaid: string;
  statementId: string;
  currencyCode: string;
  fromMs: number;
  toMs: number;
  feeBps?: number;
  seen: SeenByClient[];
}

export interface ReceivedNotification {
  paymentIntegratorAccountId: string;
  request: CaptureResultNotificationRequest;
  receivedAtMs: number;
  /** Set on attempts it refused on purpose. */
  failedWith?: FailureMode;
}

/** How the stand-in misbehaves while told to: Google down, Google slow, Google unable to verify us. */
export type FailureMode = "HTTP_500" | "SLOW" | "NOT_FOUND_EMPTY";

export interface ReceivedRefundNotification {
  paymentIntegratorAccountId: string;
  request: RefundResultNotificationRequest;
  receivedAtMs: number;
}

export interface StandInGoogle {
  url: string;
  /** Every captureResultNotification it accepted (answered SUCCESS), in order. */
  received: ReceivedNotification[];
  /** Every refundResultNotification it accepted, in order. */
  refundNotifications: ReceivedRefundNotification[];
  /** clientMessages of the echo calls it answered. */
  echoes: string[];
  /** Every verifiable request it got, refused ones included, in order. */
  attempts: ReceivedNotification[];
  /** Fail the next `times` requests (all of them, until recover(), when omitted). */
  fail(mode: FailureMode, times?: number): void;
  recover(): void;
  /** Requests it refused while failing. */
  refused: number;
  /** Remittance statements it issued, the details pages it served, the acceptances it recorded. */
  remittance: StatementDesk;
  stop(): Promise<void>;
}

/** The methods Google hosts that the stand-in serves, by the path segment after /secure-serving/gsp/v1/. */
const METHODS = [
  "captureResultNotification",
  "refundResultNotification",
  "echo",
  "remittanceStatementDetails",
  "acceptRemittanceStatement",
] as const;

/**
 * Google's endpoints for the local stack (captureResultNotification, refundResultNotification, echo):
 * opens and verifies each request with the stand-in Google keys, validates it against the schema,
 * records it and answers, sealed. An unverifiable request or unknown PIAID gets 404 with an empty body,
 * as Google answers.
 */
export async function startStandInGoogle(options: {
  keyring: () => Promise<Keyring>;
  piaids: string[];
  slowMs?: number;
}): Promise<StandInGoogle> {
  const received: ReceivedNotification[] = [];
  const refundNotifications: ReceivedRefundNotification[] = [];
  const echoes: string[] = [];
  const attempts: ReceivedNotification[] = [];
  let failing: { mode: FailureMode; remaining: number } | undefined;
  const state = { refused: 0 };
  const remittance = createStatementDesk();
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.url?.startsWith("/stand-in/")) return control();
    const match = /^\/secure-serving\/gsp\/v1\/([A-Za-z]+)\/([^/]+)$/.exec(req.url ?? "");
    const method = METHODS.find((m) => m === match?.[1]);
    const notFound = () => {
      res.writeHead(404, { "content-length": 0 });
      res.end();
    };
    if (req.method !== "POST" || !match || !method) return notFound();
    const piaid = decodeURIComponent(match[2]!);
    const keyring = await options.keyring();
    if (method !== "captureResultNotification") return otherMethod(method);
    let request: CaptureResultNotificationRequest | undefined;
    let invalid: string | undefined;
    try {
      const parsed = v.safeParse(
        CaptureResultNotificationRequest,
        JSON.parse(await open(Buffer.concat(chunks).toString("utf8"), keyring)),
      );
      if (parsed.success) request = parsed.output;
      else invalid = parsed.issues[0].message;
    } catch {
      // Could not verify us: Google answers 404 with an empty body.
    }
    const failure = failing && failing.remaining > 0 ? failing.mode : undefined;
    if (request)
      attempts.push({
        paymentIntegratorAccountId: piaid,
        request,
        receivedAtMs: Date.now(),
        ...(failure && { failedWith: failure }),
      });
    if (failure && failing) {
      failing.remaining -= 1;
      state.refused += 1;
      if (failing.remaining === 0) failing = undefined;
      if (failure === "NOT_FOUND_EMPTY") return notFound();
      if (failure === "HTTP_500") {
        res.writeHead(500, { "content-type": "text/plain" });
        return res.end("internal error");
      }
      await new Promise((r) => setTimeout(r, options.slowMs ?? 10_000)); // longer than the notifier's timeout
      if (res.destroyed) return;
      res.writeHead(503);
      return res.end();
    }
    if (invalid) return answer(400, { errorResponseCode: "INVALID_FIELD_VALUE", errorDescription: invalid });
    if (!request) return notFound();
    if (!options.piaids.includes(piaid) || request.paymentIntegratorAccountId !== piaid) return notFound();
    if (Math.abs(Number(request.requestHeader.requestTimestamp) - Date.now()) > CLOCK_SKEW_MS) {
      return answer(400, { errorResponseCode: "REQUEST_TIMESTAMP_OUT_OF_RANGE" });
    }
    received.push({ paymentIntegratorAccountId: piaid, request, receivedAtMs: Date.now() });
    return answer(200, { result: "SUCCESS" });

    /**
     * The stand-in's own control channel (loopback, plain JSON; not Google's protocol), for
     * `npm run google -- remittanceStatement`: issue a statement of what Google saw in a period, and
     * say whether it was accepted.
     */
    function control() {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      };
      const accepted = /^\/stand-in\/remittanceStatement\/([^/]+)\/([^/]+)$/.exec(req.url ?? "");
      if (req.method === "GET" && accepted) {
        const [piaid, statementId] = [decodeURIComponent(accepted[1]!), decodeURIComponent(accepted[2]!)];
        const known = remittance.statements.has(`${piaid}#${statementId}`);
        return json(known ? 200 : 404, { accepted: remittance.accepted.includes(statementId) });
      }
      if (req.method !== "POST" || req.url !== "/stand-in/remittanceStatement") return notFound();
      try {
        const ask = JSON.parse(Buffer.concat(chunks).toString("utf8")) as IssueRequest;
        return json(200, issueStatement(ask));
      } catch (error) {
        return json(400, { error: (error as Error).message });
      }
    }

    /** refundResultNotification and echo: verified, validated, recorded, answered; no failure modes. */
    async function otherMethod(m: Exclude<(typeof METHODS)[number], "captureResultNotification">) {
      let body: unknown;
      try {
        body = JSON.parse(await open(Buffer.concat(chunks).toString("utf8"), keyring));
      } catch {
        return notFound();
      }
      if (!options.piaids.includes(piaid)) return notFound();
      const stamp = Number(
        (body as { requestHeader?: { requestTimestamp?: string } })?.requestHeader?.requestTimestamp,
      );
      if (!(Math.abs(stamp - Date.now()) <= CLOCK_SKEW_MS)) {
        return answer(400, { errorResponseCode: "REQUEST_TIMESTAMP_OUT_OF_RANGE" });
      }
      const desk = remittance.handle(m, piaid, body);
      if (desk) return deskAnswer(desk);
      if (m === "echo") {
        const clientMessage = String((body as { clientMessage?: unknown }).clientMessage ?? "");
        echoes.push(clientMessage);
        return answer(200, { clientMessage, serverMessage: "stand-in Google" });
      }
      const parsed = v.safeParse(RefundResultNotificationRequest, body);
      if (!parsed.success) {
        return answer(400, {
          errorResponseCode: "INVALID_FIELD_VALUE",
          errorDescription: parsed.issues[0].message,
        });
      }
      if (parsed.output.paymentIntegratorAccountId !== piaid) return notFound();
      refundNotifications.push({
        paymentIntegratorAccountId: piaid,
        request: parsed.output,
        receivedAtMs: Date.now(),
      });
      return answer(200, { result: "SUCCESS" });
    }

    async function deskAnswer(a: DeskAnswer) {
      if (!a.body) return notFound();
      if (!a.sealing) return answer(a.status, a.body);
      const plaintext = JSON.stringify({
        responseHeader: { responseTimestamp: String(Date.now()) },
        ...a.body,
      });
      res.writeHead(a.status, { "content-type": "application/octet-stream; charset=utf-8" });
      res.end(await sealBadly(plaintext, keyring, a.sealing));
    }

    async function answer(status: number, body: Record<string, unknown>) {
      const sealed = await seal(
        JSON.stringify({ responseHeader: { responseTimestamp: String(Date.now()) }, ...body }),
        keyring,
      );
      res.writeHead(status, { "content-type": "application/octet-stream; charset=utf-8" });
      res.end(sealed);
    }
  });
  /**
   * A statement of what Google saw in [fromMs, toMs): the captures it was answered SUCCESS, the refunds
   * answered SUCCESS, and the asynchronous captures whose SUCCESS notification this stand-in received.
   */
  function issueStatement(ask: IssueRequest): DeskStatement {
    const inPeriod = (m: SeenByClient) => m.atMs >= ask.fromMs && m.atMs < ask.toMs && m.piaid === ask.piaid;
    const notifiedSuccess = new Set(
      received
        .filter((n) => n.request.captureResult.captureResultCode === "SUCCESS")
        .map((n) => n.request.captureRequestId),
    );
    const movement = (m: SeenByClient): SeenMovement => ({
      requestId: m.requestId,
      paymentIntegratorId: m.paymentIntegratorId,
      amount: BigInt(m.amount),
    });
    const seen = ask.seen.filter(inPeriod);
    const statement = buildStatement({
      piaid: ask.piaid,
      statementId: ask.statementId,
      currencyCode: ask.currencyCode,
      fromMs: ask.fromMs,
      toMs: ask.toMs,
      feeBps: ask.feeBps ?? 0,
      captures: seen
        .filter(
          (m) =>
            m.kind === "capture" || (m.kind === "asynchronousCapture" && notifiedSuccess.has(m.requestId)),
        )
        .map(movement),
      refunds: seen.filter((m) => m.kind === "refund").map(movement),
    });
    remittance.add(statement);
    return statement;
  }

  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    refundNotifications,
    echoes,
    attempts,
    get refused() {
      return state.refused;
    },
    remittance,
    fail(mode, times = Number.POSITIVE_INFINITY) {
      failing = { mode, remaining: times };
    },
    recover() {
      failing = undefined;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A page encrypted to the integrator but unsigned, or signed by a key it has never seen. */
async function sealBadly(plaintext: string, keyring: Keyring, how: "UNSIGNED" | "UNKNOWN_SIGNER") {
  const openpgp = await import("openpgp");
  const message = await openpgp.createMessage({ binary: Buffer.from(plaintext, "utf8") });
  const stranger =
    how === "UNKNOWN_SIGNER"
      ? (
          await openpgp.generateKey({
            type: "ecc",
            curve: "curve25519Legacy",
            userIDs: [{ name: "stranger" }],
            format: "object",
          })
        ).privateKey
      : undefined;
  const binary = await openpgp.encrypt({
    message,
    encryptionKeys: keyring.peer,
    ...(stranger && { signingKeys: stranger }),
    format: "binary",
  });
  return Buffer.from(binary as Uint8Array).toString("base64url");
}
