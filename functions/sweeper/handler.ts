import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { runtimeConfigFrom } from "../../shared/config.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { METRICS } from "../../shared/metrics.ts";
import { type LedgerDeps, outcomeLedgerDeps } from "../../shared/runtime-ledger.ts";

/** Time kept back from the invocation's deadline to finish the page in hand and publish the metrics. */
const FINISH_MARGIN_MS = 8_000;

/**
 * On a schedule: expires PENDING captures past their deadline and enqueues recorded outcomes whose
 * notification never reached the queue, both found through the sparse sweep index, draining it
 * until it is empty or the invocation is nearly out of time.
 */
export const createSweeperHandler =
  (
    deps: Pick<LedgerDeps, "logger" | "outcome">,
    metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.sweeperService }),
  ) =>
  async (_event?: unknown, context?: Pick<Context, "getRemainingTimeInMillis">) => {
    try {
      const remaining = context?.getRemainingTimeInMillis() ?? 60_000;
      const counts = await sweep(deps.outcome, {
        deadlineMs: deps.outcome.now() + remaining - FINISH_MARGIN_MS,
        onOldestDue: (age) => metrics.addMetric(METRICS.oldestDueRecordAgeSeconds, MetricUnit.Seconds, age),
      });
      deps.logger.info("sweep", counts);
      return counts;
    } finally {
      metrics.publishStoredMetrics();
    }
  };

export const handler = lazyHandler(() =>
  middy().handler(createSweeperHandler(outcomeLedgerDeps(runtimeConfigFrom(process.env)))),
);
