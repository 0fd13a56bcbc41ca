/** What every function does at the Lambda boundary: log context per invocation, and its configuration refusals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Context } from "aws-lambda";
import { lambdaContext } from "../../infra/local/gateway.ts";
import { RUNTIME_DEFAULTS, runtimeConfigFrom } from "../../shared/config.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { createLogger } from "../../shared/logging.ts";
import { capturedLogs, captureServiceLogs } from "../support/log-capture.ts";

captureServiceLogs(import.meta.filename);
// As Lambda sets it for on-demand functions; Powertools reports a cold start only then.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = "on-demand";

const context = (awsRequestId: string) =>
  lambdaContext({ functionName: "notifier", timeoutSeconds: 10 }, awsRequestId) as Context;

/** A function built as the handlers are: its logger made on first invocation, under its own service name. */
function fakeFunction(service: string) {
  return lazyHandler(() => {
    const logger = createLogger(service);
    return async (_event: unknown) => {
      logger.info("probe", { probe: service });
    };
  });
}

const linesOf = (service: string) =>
  capturedLogs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.probe === service);

describe("log lines in Lambda", () => {
  it("carry the Lambda request id, the cold-start flag (first invocation only) and the API request id as correlation id", async () => {
    const fn = fakeFunction("captureOutcome");
    await fn({ requestContext: { requestId: "api-req-1" } }, context("lambda-req-1"));
    await fn({ requestContext: { requestId: "api-req-2" } }, context("lambda-req-2"));
    const [first, second] = linesOf("captureOutcome");
    assert.equal(first?.service, "captureOutcome");
    assert.equal(first?.function_request_id, "lambda-req-1");
    assert.equal(first?.cold_start, true);
    assert.equal(first?.correlation_id, "api-req-1");
    assert.equal(second?.function_request_id, "lambda-req-2");
    assert.equal(second?.cold_start, false);
    assert.equal(second?.correlation_id, "api-req-2");
  });

  it("a scheduled event correlates by its event id, an SQS batch by the Lambda request id", async () => {
    const sweeper = fakeFunction("sweeper");
    await sweeper({ id: "evt-1", source: "aws.events", "detail-type": "Scheduled Event" }, context("l-1"));
    assert.equal(linesOf("sweeper")[0]?.correlation_id, "evt-1");
    const notifier = fakeFunction("notifier");
    await notifier({ Records: [{ messageId: "m-1" }] }, context("l-2"));
    assert.equal(linesOf("notifier")[0]?.correlation_id, "l-2");
    assert.equal(linesOf("notifier")[0]?.service, "notifier");
  });

  it("the service name defaults to POWERTOOLS_SERVICE_NAME, which the CDK app sets per function", () => {
    const saved = process.env.POWERTOOLS_SERVICE_NAME;
    process.env.POWERTOOLS_SERVICE_NAME = "asynchronousCapture";
    try {
      createLogger().info("named", { probe: "named" });
    } finally {
      if (saved === undefined) delete process.env.POWERTOOLS_SERVICE_NAME;
      else process.env.POWERTOOLS_SERVICE_NAME = saved;
    }
    assert.equal(linesOf("named")[0]?.service, "asynchronousCapture");
  });
});

describe("runtime configuration", () => {
  const env = {
    LEDGER_TABLE: "l",
    CAPTURES_TABLE: "c",
    REFUNDS_TABLE: "r",
    STATEMENTS_TABLE: "s",
    PIAIDS: '{"InvisiCashIN_INR":"INR"}',
    KEYS_DIR: "/keys",
  };
  it("refuses MESSAGE_CODEC=plain-json inside Lambda", () => {
    assert.throws(
      () =>
        runtimeConfigFrom({
          ...env,
          MESSAGE_CODEC: "plain-json",
          AWS_LAMBDA_FUNCTION_NAME: "gsp-prod-capture",
        }),
      /plain-json.*never in Lambda/,
    );
  });
  it("a setting left unset takes the default a RuntimeConfig built in code gets", () => {
    const config = runtimeConfigFrom({ ...env, MESSAGE_CODEC: "openpgp" });
    const { keyringTtlSeconds, googleBaseUrl, captureDeadlineSeconds, notify, enqueueGraceSeconds } = config;
    const { refundNotifications, statementAcceptance } = config;
    assert.deepEqual(
      {
        keyringTtlSeconds,
        googleBaseUrl,
        captureDeadlineSeconds,
        notify,
        enqueueGraceSeconds,
        refundNotifications,
        statementAcceptance,
      },
      RUNTIME_DEFAULTS,
    );
  });
  it("accepts plain-json outside Lambda and openpgp inside it", () => {
    assert.equal(runtimeConfigFrom({ ...env, MESSAGE_CODEC: "plain-json" }).messageCodec, "plain-json");
    assert.equal(
      runtimeConfigFrom({ ...env, MESSAGE_CODEC: "openpgp", AWS_LAMBDA_FUNCTION_NAME: "gsp-prod-capture" })
        .messageCodec,
      "openpgp",
    );
  });
});
