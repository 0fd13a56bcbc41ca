import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";

/** X-Ray through Powertools: active in Lambda (tracing on), a no-op anywhere else. */
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "gsp-integrator" });

/** The middy middleware that opens a segment per invocation and records errors on it. */
export const traced = () => captureLambdaHandler(tracer, { captureResponse: false });
