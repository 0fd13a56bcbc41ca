import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

/**
 * An SQS event source consumer with partial batch failures: each record handled on its own, the ones
 * that failed reported back (they return to the queue), the metrics published whatever happened.
 */
export const sqsBatchHandler =
  (one: (record: SQSRecord) => Promise<SQSBatchItemFailure | undefined>, metrics: Metrics) =>
  async (event: SQSEvent): Promise<SQSBatchResponse> => {
    try {
      const results = await Promise.all(event.Records.map(one));
      return { batchItemFailures: results.filter((r): r is SQSBatchItemFailure => r !== undefined) };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
