import { runtimeConfigFrom } from "../../shared/config.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type ServiceDeps, serviceDeps } from "../../shared/runtime.ts";

/** POST /v1/capture: move money now. Wiring only; the rules are in shared/domain. */
export const createCaptureHandler = (deps: ServiceDeps) =>
  googleHandler(deps, "capture", (body, deadline) => capture(deps.capture, body, deadline));

export const handler = lazyHandler(() => createCaptureHandler(serviceDeps(runtimeConfigFrom(process.env))));
