import { runtimeConfigFrom } from "../../shared/config.ts";
import { asynchronousCapture } from "../../shared/domain/asynchronous-capture-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type ServiceDeps, serviceDeps } from "../../shared/runtime.ts";

/** POST /v1/asynchronousCapture: acknowledge now, decide when the customer has acted. */
export const createAsynchronousCaptureHandler = (deps: ServiceDeps) =>
  googleHandler(deps, "asynchronousCapture", (body, deadline) =>
    asynchronousCapture(deps.capture, body, deadline),
  );

export const handler = lazyHandler(() =>
  createAsynchronousCaptureHandler(serviceDeps(runtimeConfigFrom(process.env))),
);
