import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { parseStatementMessage } from "../../shared/adapters/sqs/statement-queue.ts";
import { runtimeConfigFrom } from "../../shared/config.ts";
import { reconcileStatement } from "../../shared/domain/reconciler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { sqsBatchHandler } from "../../shared/http/sqs-batch.ts";
import { METRICS } from "../../shared/metrics.ts";
import { reconcilerServiceDeps, type ServiceDeps } from "../../shared/runtime.ts";

/**
 * SQS → reconciliation of one statement. A statement whose details were refused or could not be
 * fetched is a batch item failure: SQS tries it again after the visibility timeout, and after
 * maxReceiveCount tries moves it to the DLQ; it is never accepted meanwhile.
 */
export function createReconcilerHandler(
  deps: Pick<ServiceDeps, "logger" | "reconciler">,
  metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.reconcilerService }),
) {
  async function one(record: SQSRecord): Promise<SQSBatchItemFailure | undefined> {
    const message = parseStatementMessage(record.body);
    if (!message) {
      deps.logger.error("dropping a malformed statement message", { messageId: record.messageId });
      return undefined;
    }
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
    const outcome = await reconcileStatement(deps.reconciler, message).catch((error: Error) => {
      deps.logger.error("reconciliation failed unexpectedly", { ...message, error });
      return { kind: "FAILED" as const, reason: `unexpected: ${error.message}` };
    });
    const fields = { ...message, receiveCount, outcome: outcome.kind };
    switch (outcome.kind) {
      case "RECONCILED": {
        const r = outcome.reconciliation;
        const log = { ...fields, exact: r.exact, matched: r.matched, discrepancies: r.discrepancyCount };
        if (r.exact) {
          deps.logger.info("statement reconciled", { ...log, accepted: outcome.accepted });
        } else {
          metrics.addMetric(METRICS.statementNotReconciled, MetricUnit.Count, 1);
          deps.logger.warn("statement does not reconcile: left for an operator", log);
        }
        return undefined;
      }
      case "REFUSED":
        metrics.addMetric(METRICS.statementNotReconciled, MetricUnit.Count, 1);
        if (outcome.configuration) metrics.addMetric(METRICS.googleVerificationFailed, MetricUnit.Count, 1);
        deps.logger.error("statement details refused", { ...fields, reason: outcome.reason });
        return { itemIdentifier: record.messageId };
      case "FAILED":
        deps.logger.warn("statement reconciliation failed; retried later", {
          ...fields,
          reason: outcome.reason,
        });
        return { itemIdentifier: record.messageId };
      default:
        deps.logger.info("statement message", fields);
        return undefined;
    }
  }

  return sqsBatchHandler(one, metrics);
}

export const handler = lazyHandler(() => {
  const deps = reconcilerServiceDeps(runtimeConfigFrom(process.env));
  return middy<SQSEvent, SQSBatchResponse>().handler(createReconcilerHandler(deps));
});
