import type { Context } from "aws-lambda";

/** A Lambda entry point built on first invocation, so importing a handler module has no side effects. */
export function lazyHandler<E, R>(build: () => (event: E, context: Context) => Promise<R>) {
  let built: ((event: E, context: Context) => Promise<R>) | undefined;
  return (event: E, context: Context) => {
    built ??= build();
    return built(event, context);
  };
}
