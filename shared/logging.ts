import { Logger } from "@aws-lambda-powertools/logger";

/**
 * One structured JSON logger for the service. Log fields are chosen, never dumped: no request
 * body, token, VPA or OTP is ever passed to it.
 */
export const createLogger = (serviceName = "gsp-integrator") =>
  new Logger({ serviceName, logLevel: (process.env.LOG_LEVEL as "INFO" | undefined) ?? "INFO" });

export type { Logger };
