import { runtimeConfigFrom } from "../../shared/config.ts";
import { echo } from "../../shared/domain/echo-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type EdgeDeps, echoServiceDeps } from "../../shared/runtime.ts";

/** POST /v1/echo: Google's connectivity and security check. Wiring only; no ledger access. */
export const createEchoHandler = (deps: Pick<EdgeDeps, "codec" | "logger">) =>
  googleHandler(deps, "echo", async (body) => {
    const { response, echoId } = echo(Date.now, body);
    return { response, replayed: false, lostRace: false, attempts: 1, log: { echoId } };
  });

export const handler = lazyHandler(() => createEchoHandler(echoServiceDeps(runtimeConfigFrom(process.env))));
