import { runtimeConfigFrom } from "../../shared/config.ts";
import { refund } from "../../shared/domain/refund-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { refundServiceDeps, type ServiceDeps } from "../../shared/runtime.ts";

/** POST /v1/refund: give back part or all of a capture. Wiring only; the rules are in shared/domain. */
export const createRefundHandler = (deps: Pick<ServiceDeps, "codec" | "logger" | "refund">) =>
  googleHandler(deps, "refund", (body, deadline) => refund(deps.refund, body, deadline));

export const handler = lazyHandler(() =>
  createRefundHandler(refundServiceDeps(runtimeConfigFrom(process.env))),
);
