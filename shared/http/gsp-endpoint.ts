import { randomUUID } from "node:crypto";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { Logger } from "../logging.ts";
import { METRICS } from "../metrics.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { EnvelopeError } from "../security/envelope.ts";
import { type MessageCodec, parseOpenedBody } from "./codec.ts";
import { GOOGLE_MAX_BODY_BYTES, TOO_LARGE } from "./limits.ts";

/** What a Google-facing handler receives: the opened, parsed body. */
export interface GspEvent extends APIGatewayProxyEventV2 {
  gspBody: Record<string, unknown>;
}

/** What it returns: a 200 body, and the fields that describe it in the request log line. */
export interface GspResult {
  body: Record<string, unknown>;
  log: Record<string, string | boolean | number>;
}

interface Options {
  method: string;
  codec: MessageCodec;
  logger: Logger;
  now?: () => number;
  metrics?: Metrics;
}

/** We cannot seal an answer (no usable key on one side): nothing is done, and Google retries a 503. */
class UnsealableError extends Error {}

/** How long an invocation may still run when its context does not say (unit tests). */
const DEFAULT_REMAINING_MS = 30_000;

type Internal = { startedAt: number; opened?: boolean; gspBody?: Record<string, unknown> };
type Request = {
  event: GspEvent;
  response: APIGatewayProxyStructuredResultV2 | GspResult | null | undefined;
  error: unknown;
  internal: Record<string, unknown>;
  context?: { getRemainingTimeInMillis?: () => number };
};

const SAFE_ID = /^[A-Za-z0-9:_-]{1,100}$/;

/**
 * The edge of every Google-facing route: opens the wire body through the codec, seals the answer,
 * maps every failure to the protocol's ErrorResponse, and writes one log line per request.
 */
export function gspEndpoint({
  method,
  codec,
  logger,
  now = Date.now,
  metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.envelopeService }),
}: Options): MiddlewareObj<GspEvent> {
  const before = async (request: Request) => {
    const internal = request.internal as Internal;
    internal.startedAt = performance.now();
    const body = request.event.body ?? "";
    // In the cloud nothing in front of us enforces the limit (see limits.ts): answer as the local gateway does.
    const size = Buffer.byteLength(body, request.event.isBase64Encoded ? "base64" : "utf8");
    if (size > GOOGLE_MAX_BODY_BYTES) {
      logLine(request, TOO_LARGE.statusCode, { error: "BODY_TOO_LARGE" });
      return {
        statusCode: TOO_LARGE.statusCode,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: TOO_LARGE.message }),
      };
    }
    const raw = Buffer.from(body, request.event.isBase64Encoded ? "base64" : "utf8");
    const opened = await codec.open(raw);
    // Before any ledger write: the answer must be sealable until this invocation ends, or no money moves.
    const remaining = request.context?.getRemainingTimeInMillis?.() ?? DEFAULT_REMAINING_MS;
    const unsealable = await codec.cannotSeal(new Date(now() + remaining));
    if (unsealable) throw new UnsealableError(unsealable);
    // From here the sender is verified: every answer, errors included, goes back sealed.
    internal.opened = true;
    request.event.gspBody = parseOpenedBody(opened);
    internal.gspBody = request.event.gspBody;
  };

  const after = async (request: Request) => {
    const result = request.response as GspResult;
    request.response = await respond(200, result.body, true);
    logLine(request, 200, result.log);
  };

  const onError = async (request: Request) => {
    const error = request.error;
    const sealed = (request.internal as Internal).opened === true;
    const paymentIntegratorErrorIdentifier = randomUUID();
    if (error instanceof UnsealableError) {
      // Bare: no answer can be sealed. 503 is what Google retries (as during maintenance), by when a key may be back.
      const body = { errorDescription: "service unavailable", paymentIntegratorErrorIdentifier };
      request.response = await respond(503, body, false);
      logger.error("cannot seal an answer: refused before any ledger access", {
        method,
        paymentIntegratorErrorIdentifier,
        reason: error.message,
      });
      logLine(request, 503, { paymentIntegratorErrorIdentifier });
      return;
    }
    if (error instanceof ProtocolError) {
      const body = {
        errorResponseCode: error.code,
        errorDescription: error.description,
        paymentIntegratorErrorIdentifier,
      };
      request.response = await respond(error.status, body, sealed);
      logLine(request, error.status, {
        errorResponseCode: error.code,
        errorDescription: error.description,
        paymentIntegratorErrorIdentifier,
        ...(error instanceof EnvelopeError && { reason: error.reason }),
      });
      if (error instanceof EnvelopeError) {
        metrics.addMetric(METRICS.envelopeRejected, MetricUnit.Count, 1);
        metrics.publishStoredMetrics();
      }
      return;
    }
    // Unexpected: the caller gets only an identifier; the log line under it has the cause.
    const body = { errorDescription: "internal error", paymentIntegratorErrorIdentifier };
    request.response = await respond(500, body, sealed).catch(() => respond(500, body, false));
    logger.error("unexpected failure", { method, paymentIntegratorErrorIdentifier, error: error as Error });
    logLine(request, 500, { paymentIntegratorErrorIdentifier });
  };

  /** Sealed through the codec, or bare JSON when the request could not be verified (we learn nothing of the caller). */
  async function respond(
    statusCode: number,
    body: Record<string, unknown>,
    sealed: boolean,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    const json = JSON.stringify({ responseHeader: { responseTimestamp: String(now()) }, ...body });
    if (!sealed)
      return { statusCode, headers: { "content-type": "application/json; charset=utf-8" }, body: json };
    return { statusCode, headers: { "content-type": codec.contentType }, body: await codec.seal(json) };
  }

  function logLine(request: Request, status: number, fields: Record<string, unknown>) {
    const internal = request.internal as Internal;
    const body = internal.gspBody;
    const header = body?.requestHeader as Record<string, unknown> | undefined;
    const requestId =
      typeof header?.requestId === "string" && SAFE_ID.test(header.requestId) ? header.requestId : undefined;
    const piaid = body?.paymentIntegratorAccountId;
    logger.info("request", {
      method,
      status,
      paymentIntegratorAccountId: typeof piaid === "string" && SAFE_ID.test(piaid) ? piaid : undefined,
      requestId,
      ...fields,
      durationMs: Math.round((performance.now() - (internal.startedAt ?? performance.now())) * 100) / 100,
    });
  }

  return { before, after, onError } as MiddlewareObj<GspEvent>;
}
