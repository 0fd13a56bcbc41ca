import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";

/** Every logger this process made: each invocation's context goes to all of them. */
const processLoggers = new Set<Logger>();

/**
 * One structured JSON logger for the service. Log fields are chosen, never dumped: no request
 * body, token, VPA or OTP is ever passed to it. In Lambda each function logs under its own name
 * (POWERTOOLS_SERVICE_NAME, set per function by the CDK app).
 */
export const createLogger = (serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? "gsp-integrator") => {
  const logger = new Logger({
    serviceName,
    logLevel: (process.env.LOG_LEVEL as "INFO" | undefined) ?? "INFO",
  });
  processLoggers.add(logger);
  return logger;
};

/**
 * What ties one invocation's lines together: API Gateway's request id (also in its access log),
 * an EventBridge event's id; an SQS batch has none of its own, so the Lambda request id.
 */
export function correlationIdOf(event: unknown, context?: Pick<Context, "awsRequestId">): string | undefined {
  const e = event as { requestContext?: { requestId?: unknown }; id?: unknown; source?: unknown } | undefined;
  if (typeof e?.requestContext?.requestId === "string") return e.requestContext.requestId;
  if (typeof e?.id === "string" && typeof e.source === "string") return e.id;
  return context?.awsRequestId;
}

/**
 * Called at the start of every invocation: each line after it carries the Lambda request id, the
 * cold-start flag (true on the process's first invocation only) and the correlation id.
 */
export function startInvocation(event: unknown, context: Context | undefined) {
  const correlationId = correlationIdOf(event, context);
  for (const logger of processLoggers) {
    if (context) logger.addContext(context);
    if (correlationId !== undefined) logger.setCorrelationId(correlationId);
  }
}

export { Logger };
