import { runtimeConfigFrom } from "../../shared/config.ts";
import { asynchronousCapture } from "../../shared/domain/asynchronous-capture-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { captureServiceDeps, type ServiceDeps } from "../../shared/runtime.ts";

/** POST /v1/asynchronousCapture: acknowledge now, decide when the customer has acted. */
export const createAsynchronousCaptureHandler = (deps: Pick<ServiceDeps, "codec" | "logger" | "capture">) =>
  googleHandler(deps, "asynchronousCapture", (body, deadline) =>
    asynchronousCapture(deps.capture, body, deadline),
  );

export const handler = lazyHandler(() =>
  createAsynchronousCaptureHandler(captureServiceDeps(runtimeConfigFrom(process.env))),
);
