import assert from "node:assert/strict";
import { test } from "node:test";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { plainJsonCodec } from "../../shared/http/codec.ts";
import { type GspEvent, type GspResult, gspEndpoint } from "../../shared/http/gsp-endpoint.ts";
import { MAX_BODY_BYTES } from "../../shared/http/limits.ts";
import { createLogger } from "../../shared/logging.ts";

const silent = createLogger("unit");
silent.setLogLevel("SILENT");
let invoked = 0;
const handler = middy<GspEvent, GspResult>()
  .use(gspEndpoint({ method: "unit", codec: plainJsonCodec, logger: silent }))
  .handler(async () => {
    invoked += 1;
    return { body: { result: "SUCCESS" }, log: {} };
  });
const context = { getRemainingTimeInMillis: () => 6000 } as Context;
const event = (body: string, isBase64Encoded = false) =>
  ({ body, isBase64Encoded, headers: {} }) as unknown as APIGatewayProxyEventV2;
const call = (e: APIGatewayProxyEventV2) =>
  handler(e as GspEvent, context) as unknown as Promise<APIGatewayProxyStructuredResultV2>;

test("a body over the limit is refused with 413 before it is opened, in the function as at the gateway", async () => {
  for (const e of [
    event("x".repeat(MAX_BODY_BYTES + 1)),
    event(Buffer.alloc(MAX_BODY_BYTES + 3).toString("base64"), true),
  ]) {
    const answer = await call(e);
    assert.equal(answer.statusCode, 413);
    assert.deepEqual(JSON.parse(answer.body!), { message: "Request Entity Too Large" });
  }
  assert.equal(invoked, 0);
  const ok = await call(event('{"a":1}'));
  assert.equal(ok.statusCode, 200);
  assert.equal(invoked, 1);
});

test("a body nested deeper than 32 levels is INVALID_DECRYPTED_REQUEST, not a crash", async () => {
  const deep = `{"a":${"[".repeat(40)}${"]".repeat(40)}}`;
  const answer = await call(event(deep));
  assert.equal(answer.statusCode, 400);
  assert.equal(JSON.parse(answer.body!).errorResponseCode, "INVALID_DECRYPTED_REQUEST");
});
