import { runtimeConfigFrom } from "../../shared/config.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { captureServiceDeps, type ServiceDeps } from "../../shared/runtime.ts";

/** POST /v1/capture: move money now. Wiring only; the rules are in shared/domain. */
export const createCaptureHandler = (deps: Pick<ServiceDeps, "codec" | "logger" | "capture">) =>
  googleHandler(deps, "capture", (body, deadline) => capture(deps.capture, body, deadline));

export const handler = lazyHandler(() =>
  createCaptureHandler(captureServiceDeps(runtimeConfigFrom(process.env))),
);
