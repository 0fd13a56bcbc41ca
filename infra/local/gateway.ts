import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { MAX_BODY_BYTES, TOO_LARGE } from "../../shared/http/limits.ts";

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface GatewayRoute {
  method: string;
  path: string;
  functionName: string;
  handler: HttpApiHandler;
  timeoutSeconds: number;
  /** Stands in for API Gateway's IAM authorisation: false → 403, the handler is not invoked. */
  authorize?: (req: IncomingMessage) => boolean;
}

export { MAX_BODY_BYTES };

/** API Gateway gives up on an integration after 30 s. */
const INTEGRATION_TIMEOUT_MS = 30_000;

/**
 * Invocations in flight at once per function. Lambda runs each in its own container; on one machine
 * they share its cores, so the local stack bounds them and queues the rest, and, as in Lambda, an
 * invocation's timeout starts when it starts, not when its request arrived.
 */
export const DEFAULT_MAX_CONCURRENT = 8;

class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  release() {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free += 1;
  }
}

/** Content types HTTP APIs pass as text; everything else arrives base64-encoded with isBase64Encoded. */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/**
 * An HTTP server on loopback that does what API Gateway (HTTP API, payload v2) does for our routes:
 * builds the v2 event, invokes the handler, writes back its structured result.
 */
export function createGateway(routes: GatewayRoute[], maxConcurrent = DEFAULT_MAX_CONCURRENT): Server {
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const slots = new Map(routes.map((r) => [r.functionName, new Semaphore(maxConcurrent)]));
  return createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const route = byKey.get(`${req.method} ${url.pathname}`);
      if (!route) return send(res, 404, { message: "Not Found" });
      if (route.authorize && !route.authorize(req)) return send(res, 403, { message: "Forbidden" });
      const body = await readBody(req);
      if (body === undefined) return send(res, TOO_LARGE.statusCode, { message: TOO_LARGE.message });
      const event = toEvent(req, url, route, body);
      const slot = slots.get(route.functionName)!;
      const arrived = Date.now();
      await slot.acquire();
      try {
        if (Date.now() - arrived > INTEGRATION_TIMEOUT_MS)
          return send(res, 503, { message: "Service Unavailable" });
        const result = await route.handler(event, lambdaContext(route, event.requestContext.requestId));
        writeResult(res, result);
      } finally {
        slot.release();
      }
    } catch {
      // The handler maps its own failures; reaching here means the gateway itself failed, as API Gateway's 500 would.
      if (!res.headersSent) send(res, 500, { message: "Internal Server Error" });
    }
  });
}

/** The body, or undefined past the limit: the rest is read and dropped, so the client gets its 413, not a reset. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
    else if (size > 16 * MAX_BODY_BYTES) {
      req.destroy(); // a sender that will not stop is cut off
      return undefined;
    }
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks);
}

function toEvent(req: IncomingMessage, url: URL, route: GatewayRoute, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const isText = TEXT_TYPES.test(headers["content-type"] ?? "");
  const now = new Date();
  const requestId = randomUUID();
  return {
    version: "2.0",
    routeKey: `${route.method} ${route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method: req.method ?? "POST",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId,
      routeKey: `${route.method} ${route.path}`,
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 && { body: isText ? body.toString("utf8") : body.toString("base64") }),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/** A Lambda context whose remaining time counts down from the function's timeout. */
export function lambdaContext(
  route: { functionName: string; timeoutSeconds: number },
  awsRequestId: string,
): Context {
  const deadline = Date.now() + route.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: route.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${route.functionName}`,
    memoryLimitInMB: "512",
    awsRequestId,
    logGroupName: `/aws/lambda/${route.functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2) {
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  res.writeHead(result.statusCode ?? 200, {
    ...(result.headers as Record<string, string>),
    "content-length": body.length,
  });
  res.end(body);
}

function send(res: ServerResponse, status: number, json: unknown) {
  const body = JSON.stringify(json);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
