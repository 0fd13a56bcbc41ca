import assert from "node:assert/strict";
import { test } from "node:test";
import { echoBody } from "../../infra/google/client.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { echo, post, requestId } from "../support/google.ts";
import { parsedLogs } from "../support/log-capture.ts";
import { startTestStack } from "../support/stack.ts";

const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });

test("echo answers the clientMessage as received and a serverMessage that leads to our log line; no ledger access", async () => {
  stack.dynamodbCommands.length = 0;
  const id = requestId("echo");
  const clientMessage = 'probe ünïcödé 🙂 "quoted"';
  const reply = await echo(stack.url, echoBody(clientMessage, id));
  assert.equal(reply.status, 200);
  assert.equal(reply.sealed, true, "answered signed and encrypted");
  assert.equal(reply.body.clientMessage, clientMessage);
  const serverMessage = String(reply.body.serverMessage);
  const echoId = /^gsp-integrator (echo-[A-Za-z0-9_-]{12})$/.exec(serverMessage)?.[1];
  assert.ok(echoId, serverMessage);
  assert.deepEqual(stack.dynamodbCommands, [], "echo touches no table");
  const line = parsedLogs().find((l) => l.message === "request" && l.requestId === id);
  assert.equal(line?.method, "echo");
  assert.equal(line?.echoId, echoId);
  assert.equal(line?.status, 200);
});

test("echo keeps the rules every method has: header, ±60 s, strict JSON, required clientMessage", async () => {
  const stale = echoBody("late");
  (stale.requestHeader as Record<string, unknown>).requestTimestamp = String(Date.now() - 61_000);
  const late = await echo(stack.url, stale);
  assert.equal(late.status, 400);
  assert.equal(late.body.errorResponseCode, "REQUEST_TIMESTAMP_OUT_OF_RANGE");

  const v2 = echoBody("v2");
  (v2.requestHeader as Record<string, unknown>).protocolVersion = { major: 2, minor: 0, revision: 0 };
  assert.equal((await echo(stack.url, v2)).body.errorResponseCode, "INVALID_API_VERSION");

  const missing = await echo(stack.url, { requestHeader: echoBody("x").requestHeader });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.errorResponseCode, "MISSING_REQUIRED_FIELD");

  const newer = await echo(stack.url, { ...echoBody("forward"), someFutureMember: { x: 1 } });
  assert.equal(newer.status, 200, "unknown members of a newer minor version are ignored");
  assert.equal(newer.body.clientMessage, "forward");

  const header = JSON.stringify(echoBody("x").requestHeader);
  for (const malformed of [
    `{"requestHeader":${header},"clientMessage":"a",}`,
    `{"requestHeader":${header},"clientMessage":'a'}`,
    `{"requestHeader":${header}, /* c */ "clientMessage":"a"}`,
    `{"requestHeader":${header},"clientMessage":NaN}`,
  ]) {
    const reply = await post(stack.url, "/v1/echo", malformed);
    assert.equal(reply.status, 400, malformed);
    assert.equal(reply.body.errorResponseCode, "INVALID_DECRYPTED_REQUEST", malformed);
  }
});
