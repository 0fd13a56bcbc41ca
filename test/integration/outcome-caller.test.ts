/**
 * In the cloud the outcome function checks the SigV4-verified caller itself, against the roles the
 * CDK app lists, on both event shapes API Gateway sends (REST v1, HTTP API v2).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { createCaptureOutcomeHandler } from "../../functions/capture-outcome/handler.ts";
import { lambdaContext } from "../../infra/local/gateway.ts";
import {
  callerArnOf,
  isAllowedCaller,
  OUTCOME_CALLERS_ENV,
  outcomeCallersFrom,
} from "../../shared/http/caller.ts";
import { ledgerDeps } from "../../shared/runtime-ledger.ts";
import { startTestStack } from "../support/stack.ts";

const ALLOWED = ["arn:aws:iam::111111111111:role/ops/integrator-outcomes"];
const session = (role: string, account = "111111111111") =>
  `arn:aws:sts::${account}:assumed-role/${role}/worker-7`;

describe("the allow-list", () => {
  it("admits any session of a listed role (the role's path dropped) and nothing else", () => {
    assert.equal(isAllowedCaller(session("integrator-outcomes"), ALLOWED), true);
    assert.equal(isAllowedCaller(ALLOWED[0], ALLOWED), true);
    assert.equal(isAllowedCaller(session("integrator-outcomes-2"), ALLOWED), false);
    assert.equal(isAllowedCaller(session("integrator-outcomes", "222222222222"), ALLOWED), false);
    assert.equal(
      isAllowedCaller("arn:aws-cn:sts::111111111111:assumed-role/integrator-outcomes/w", ALLOWED),
      false,
    );
    assert.equal(isAllowedCaller("arn:aws:iam::111111111111:user/integrator-outcomes", ALLOWED), false);
    assert.equal(isAllowedCaller(undefined, ALLOWED), false);
    assert.equal(isAllowedCaller(session("integrator-outcomes"), []), false);
  });

  it("reads the caller from a REST (v1) or an HTTP API (v2) request context", () => {
    const arn = session("integrator-outcomes");
    assert.equal(callerArnOf({ requestContext: { identity: { userArn: arn } } }), arn);
    assert.equal(callerArnOf({ requestContext: { authorizer: { iam: { userArn: arn } } } }), arn);
    assert.equal(callerArnOf({ requestContext: { identity: { userArn: null } } }), undefined);
    assert.equal(callerArnOf({}), undefined);
  });

  it("is required in Lambda: none, or a non-role ARN, is a configuration error", () => {
    assert.throws(() => outcomeCallersFrom({}), /names no caller/);
    assert.throws(() => outcomeCallersFrom({ [OUTCOME_CALLERS_ENV]: " , " }), /names no caller/);
    assert.throws(
      () => outcomeCallersFrom({ [OUTCOME_CALLERS_ENV]: "arn:aws:iam::111111111111:user/u" }),
      /non-role ARN/,
    );
    assert.deepEqual(
      outcomeCallersFrom({ [OUTCOME_CALLERS_ENV]: `${ALLOWED[0]}, arn:aws:iam::111111111111:role/b` }),
      [...ALLOWED, "arn:aws:iam::111111111111:role/b"],
    );
  });
});

describe("the outcome function with an allow-list", async () => {
  const stack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
  const handler = createCaptureOutcomeHandler(
    ledgerDeps(stack.config, { dynamodb: stack.dynamodb, sqs: stack.sqs }),
    ALLOWED,
  );
  const body = JSON.stringify({
    paymentIntegratorAccountId: "InvisiCashIN_INR",
    captureRequestId: "never-captured",
    outcome: "APPROVED",
  });
  const call = (requestContext: Record<string, unknown>) =>
    handler(
      { body, isBase64Encoded: false, requestContext } as unknown as APIGatewayProxyEventV2,
      lambdaContext({ functionName: "captureOutcome", timeoutSeconds: 10 }, "req") as Context,
    );

  it("refuses a caller not on the list with 403 before reading anything", async () => {
    for (const requestContext of [
      { identity: { userArn: session("someone-else") } },
      { authorizer: { iam: { userArn: session("someone-else") } } },
      {},
    ]) {
      const started = stack.dynamodbCommands.length;
      const answer = await call(requestContext);
      assert.equal(answer.statusCode, 403);
      assert.deepEqual(JSON.parse(answer.body!).error, "CALLER_NOT_ALLOWED");
      assert.deepEqual(stack.dynamodbCommands.slice(started), []);
    }
  });

  it("lets a listed role's session through to the domain (here: an unknown capture, 404)", async () => {
    for (const requestContext of [
      { identity: { userArn: session("integrator-outcomes") } },
      { authorizer: { iam: { userArn: session("integrator-outcomes") } } },
    ]) {
      const answer = await call(requestContext);
      assert.equal(answer.statusCode, 404);
      assert.equal(JSON.parse(answer.body!).error, "UNKNOWN_CAPTURE");
    }
  });
});
