import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { createGateway, MAX_BODY_BYTES } from "../../infra/local/gateway.ts";

const events: APIGatewayProxyEventV2[] = [];
const server = createGateway([
  {
    method: "POST",
    path: "/v1/echo",
    functionName: "echo",
    timeoutSeconds: 6,
    handler: async (event) => {
      events.push(event);
      return {
        statusCode: 201,
        headers: { "content-type": "application/octet-stream" },
        body: Buffer.from([0, 1, 2]).toString("base64"),
        isBase64Encoded: true,
      };
    },
  },
]);
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
after(() => server.close());
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/echo`;

test("binary bodies arrive base64 with isBase64Encoded; JSON arrives as text; the result is written back decoded", async () => {
  const binary = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/octet-stream; charset=utf-8" },
    body: Buffer.from([255, 0, 7]),
  });
  assert.equal(binary.status, 201);
  assert.deepEqual([...new Uint8Array(await binary.arrayBuffer())], [0, 1, 2]);
  const json = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"a":1}',
  });
  await json.arrayBuffer();
  const [b, j] = events.slice(-2);
  assert.deepEqual([b?.isBase64Encoded, b?.body], [true, Buffer.from([255, 0, 7]).toString("base64")]);
  assert.deepEqual([j?.isBase64Encoded, j?.body], [false, '{"a":1}']);
  assert.equal(b?.version, "2.0");
  assert.equal(b?.routeKey, "POST /v1/echo");
  assert.equal(b?.requestContext.http.method, "POST");
  assert.equal(b?.headers["content-type"], "application/octet-stream; charset=utf-8");
});

test("unknown routes are 404 and oversized bodies 413, without invoking the handler", async () => {
  const count = events.length;
  const missing = await fetch(url.replace("echo", "nope"), { method: "POST", body: "{}" });
  assert.equal(missing.status, 404);
  const big = await fetch(url, { method: "POST", body: Buffer.alloc(MAX_BODY_BYTES + 1) });
  assert.equal(big.status, 413);
  assert.equal(events.length, count);
});
