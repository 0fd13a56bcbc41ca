import { randomUUID } from "node:crypto";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { runtimeConfigFrom } from "../../shared/config.ts";
import { OutcomeError, recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { callerArnOf, isAllowedCaller, outcomeCallersFrom } from "../../shared/http/caller.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type LedgerDeps, outcomeLedgerDeps } from "../../shared/runtime-ledger.ts";

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { "content-type": "application/json; charset=utf-8" },
  body: JSON.stringify(body),
});

/**
 * POST /internal/v1/captureOutcome: the integrator's own systems report what the customer did for
 * an acknowledged asynchronous capture. Not Google-facing: IAM-authorised in the cloud, loopback
 * plus a token on the local stack. With `allowedCallers` (always in Lambda) the SigV4-verified caller
 * must be one of those roles, whatever the API's resource policy lets through.
 */
export function createCaptureOutcomeHandler(
  deps: Pick<LedgerDeps, "logger" | "outcome">,
  allowedCallers?: readonly string[],
) {
  return async (
    event: APIGatewayProxyEventV2,
    context?: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const started = performance.now();
    const log = (status: number, fields: Record<string, unknown>) =>
      deps.logger.info("request", {
        method: "captureOutcome",
        status,
        ...fields,
        durationMs: Math.round(performance.now() - started),
      });
    if (allowedCallers && !isAllowedCaller(callerArnOf(event), allowedCallers)) {
      log(403, { error: "CALLER_NOT_ALLOWED" });
      return json(403, { error: "CALLER_NOT_ALLOWED", message: "this caller may not report outcomes" });
    }
    let body: unknown;
    try {
      body = JSON.parse(
        Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8").toString("utf8"),
      );
    } catch {
      log(400, { error: "INVALID_OUTCOME" });
      return json(400, { error: "INVALID_OUTCOME", message: "body is not JSON" });
    }
    try {
      // Leave time to answer before the function's own timeout.
      const deadline = Date.now() + (context?.getRemainingTimeInMillis() ?? 10_000) - 750;
      const { record, repeated } = await recordCaptureOutcome(deps.outcome, body, deadline);
      const answer = {
        paymentIntegratorAccountId: record.paymentIntegratorAccountId,
        captureRequestId: record.requestId,
        paymentIntegratorTransactionId: record.paymentIntegratorTransactionId,
        outcome: record.outcome,
        captureResult: record.notification?.captureResult,
        repeated,
      };
      log(200, {
        paymentIntegratorAccountId: record.paymentIntegratorAccountId,
        captureRequestId: record.requestId,
        result: record.notification?.captureResult.captureResultCode,
        repeated,
      });
      return json(200, answer);
    } catch (error) {
      if (error instanceof OutcomeError) {
        log(error.status, { error: error.code });
        return json(error.status, { error: error.code, message: error.message });
      }
      const errorIdentifier = randomUUID();
      deps.logger.error("unexpected failure", {
        method: "captureOutcome",
        errorIdentifier,
        error: error as Error,
      });
      log(500, { errorIdentifier });
      return json(500, { error: "INTERNAL", errorIdentifier });
    }
  };
}

export const handler = lazyHandler(() =>
  middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(
    createCaptureOutcomeHandler(
      outcomeLedgerDeps(runtimeConfigFrom(process.env)),
      outcomeCallersFrom(process.env),
    ),
  ),
);
