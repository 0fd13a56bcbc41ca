import middy from "@middy/core";
import type { EdgeDeps } from "../runtime.ts";
import { type GspEvent, type GspResult, gspEndpoint } from "./gsp-endpoint.ts";

/** Time left to seal and send the answer before the function's own timeout. */
const ANSWER_MARGIN_MS = 750;

type Run = (
  body: Record<string, unknown>,
  deadlineMs: number,
) => Promise<{
  /** echo has no result; every other method has one. */
  response: { result?: string } & Record<string, unknown>;
  replayed: boolean;
  lostRace: boolean;
  attempts: number;
  /** More fields for the request's log line (identifiers of ours only, never customer data). */
  log?: Record<string, string>;
}>;

/** A Google-facing route: the envelope edge, then one domain call bounded by the invocation's deadline. */
export function googleHandler(deps: Pick<EdgeDeps, "codec" | "logger">, method: string, run: Run) {
  return middy<GspEvent, GspResult>()
    .use(gspEndpoint({ method, codec: deps.codec, logger: deps.logger }))
    .handler(async (event, context) => {
      const deadline = Date.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
      const { response, replayed, lostRace, attempts, log } = await run(event.gspBody, deadline);
      return {
        body: { ...response },
        log: { ...(response.result && { result: response.result }), replayed, lostRace, attempts, ...log },
      };
    });
}
