import { randomUUID } from "node:crypto";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { Logger } from "../logging.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { type MessageCodec, parseOpenedBody } from "./codec.ts";
import { MAX_BODY_BYTES, TOO_LARGE } from "./limits.ts";

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
}

type Internal = { startedAt: number; opened?: boolean; gspBody?: Record<string, unknown> };
type Request = {
  event: GspEvent;
  response: APIGatewayProxyStructuredResultV2 | GspResult | null | undefined;
  error: unknown;
  internal: Record<string, unknown>;
};

const SAFE_ID = /^[A-Za-z0-9:_-]{1,100}$/;

/**
 * The edge of every Google-facing route: opens the wire body through the codec, seals the answer,
 * maps every failure to the protocol's ErrorResponse, and writes one log line per request.
 */
export function gspEndpoint({ method, codec, logger, now = Date.now }: Options): MiddlewareObj<GspEvent> {
  const before = async (request: Request) => {
    const internal = request.internal as Internal;
    internal.startedAt = performance.now();
    const body = request.event.body ?? "";
    // In the cloud nothing in front of us enforces the limit (see limits.ts): answer as the local gateway does.
    const size = Buffer.byteLength(body, request.event.isBase64Encoded ? "base64" : "utf8");
    if (size > MAX_BODY_BYTES) {
      logLine(request, TOO_LARGE.statusCode, { error: "BODY_TOO_LARGE" });
      return {
        statusCode: TOO_LARGE.statusCode,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: TOO_LARGE.message }),
      };
    }
    const raw = Buffer.from(body, request.event.isBase64Encoded ? "base64" : "utf8");
    const opened = await codec.open(raw);
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
      });
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
