import type { Context } from "aws-lambda";
import { startInvocation } from "../logging.ts";

/**
 * A Lambda entry point built on first invocation, so importing a handler module has no side effects.
 * Each invocation first hands its context to the process's loggers (request id, cold start, correlation id).
 */
export function lazyHandler<E, R>(build: () => (event: E, context: Context) => Promise<R>) {
  let built: ((event: E, context: Context) => Promise<R>) | undefined;
  return (event: E, context: Context) => {
    built ??= build();
    startInvocation(event, context);
    return built(event, context);
  };
}
