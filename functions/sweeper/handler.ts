import middy from "@middy/core";
import { runtimeConfigFrom } from "../../shared/config.ts";
import { sweep } from "../../shared/domain/capture-outcome-service.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type LedgerDeps, ledgerDeps } from "../../shared/runtime-ledger.ts";
import { traced } from "../../shared/tracing.ts";

/**
 * On a schedule: expires PENDING captures past their deadline and enqueues recorded outcomes whose
 * notification never reached the queue, both found through the sparse sweep index.
 */
export const createSweeperHandler = (deps: LedgerDeps) => async () => {
  const counts = await sweep(deps.outcome);
  deps.logger.info("sweep", counts);
  return counts;
};

export const handler = lazyHandler(() =>
  middy()
    .use(traced())
    .handler(createSweeperHandler(ledgerDeps(runtimeConfigFrom(process.env)))),
);
