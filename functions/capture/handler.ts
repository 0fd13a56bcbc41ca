import middy from "@middy/core";
import { runtimeConfigFrom } from "../../shared/config.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { type GspEvent, type GspResult, gspEndpoint } from "../../shared/http/gsp-endpoint.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type ServiceDeps, serviceDeps } from "../../shared/runtime.ts";

const ANSWER_MARGIN_MS = 750;

/** POST /v1/capture: move money now. Wiring only; the rules are in shared/domain. */
export function createCaptureHandler(deps: ServiceDeps) {
  return middy<GspEvent, GspResult>()
    .use(gspEndpoint({ method: "capture", codec: deps.codec, logger: deps.logger }))
    .handler(async (event, context) => {
      // Leave time to seal and send the answer before the function's own timeout.
      const deadline = Date.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
      const { response, replayed, lostRace, attempts } = await capture(deps.capture, event.gspBody, deadline);
      return { body: { ...response }, log: { result: response.result, replayed, lostRace, attempts } };
    });
}

export const handler = lazyHandler(() => createCaptureHandler(serviceDeps(runtimeConfigFrom(process.env))));
