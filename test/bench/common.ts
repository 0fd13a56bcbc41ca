import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { asynchronousCaptureBody, captureBody, newRequestId, refundBody } from "../../infra/google/client.ts";
import { DEMO_LEDGER } from "../../infra/local/stack.ts";
import type { NotificationQueue } from "../../shared/domain/capture-record.ts";

/** One markdown table of a module's report. */
export interface Table {
  title?: string;
  headers: string[];
  rows: (string | number)[][];
}

export interface ModuleResult {
  tables: Table[];
  /** Sentences printed under the tables: how the figures were obtained, caveats. */
  notes: string[];
  /** One-line findings for the summary at the top of the report. */
  headlines?: string[];
  /** Raw figures, for latest.json and for later modules (the cost model reads them). */
  data: Record<string, unknown>;
}

export interface BenchContext {
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** RSA 3072 keys (ensureLocalKeys layout). */
  keysDir: string;
  /** Scratch folder of this run (removed at the end). */
  workDir: string;
  /** Ledger fixture: the demo ledger plus `benchTokens`, each on its own account with a huge balance and no limits. */
  benchLedger: string;
  benchTokens: string[];
  /** Fewer samples, for trying the runner out; figures are not meant to be kept. */
  quick: boolean;
  /** A table/queue prefix of its own for each module (and each stack inside it). */
  prefix(name: string): string;
  /** Results of the modules that already ran in this run. */
  results: Record<string, ModuleResult>;
  log(message: string): void;
}

export interface BenchModule {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<ModuleResult>;
}

export const PIAID = "InvisiCashIN_INR";

/** The stack's request log line is not written during benchmarks (it would flood the terminal). */
export const silentLogger = () => new Logger({ serviceName: "gsp-integrator-bench", logLevel: "SILENT" });

/** A capture as Google sends it, with a fresh requestId: 1 INR from `token`. */
export function benchCapture(token: string, amount = "1000000", requestId = newRequestId("bench")) {
  return captureBody({
    piaid: PIAID,
    amount,
    currency: "INR",
    googlePaymentToken: token,
    requestId,
  });
}

/** An asynchronousCapture as Google sends it (UPI), with a fresh requestId: 1 INR from `vpa`. */
export function benchAsynchronousCapture(vpa: string, amount = "1000000", requestId = newRequestId("bench")) {
  return asynchronousCaptureBody({ piaid: PIAID, amount, currency: "INR", vpa, requestId });
}

/** The integrator's outcome for an acknowledged capture: APPROVED, or FAILED as a customer who left the flow. */
export const benchOutcome = (captureRequestId: string, approved = true) =>
  approved
    ? { paymentIntegratorAccountId: PIAID, captureRequestId, outcome: "APPROVED" }
    : {
        paymentIntegratorAccountId: PIAID,
        captureRequestId,
        outcome: "FAILED",
        captureResultCode: "USER_EXITED_PAYMENT_FLOW",
        rawResult: { rawCode: "U16" },
      };

/** A refund of `refundAmount` micros of the capture `captureRequestId`, as Google sends it. */
export const benchRefund = (captureRequestId: string, refundAmount: string) =>
  refundBody({
    piaid: PIAID,
    captureRequestId,
    refundAmount,
    currency: "INR",
    requestId: newRequestId("bench-refund"),
  });

/** An API Gateway HTTP API (payload 2.0) event for POST `path`, binary bodies base64-encoded as API Gateway does. */
export function apiGatewayEvent(
  wire: string,
  contentType: string,
  path = "/v1/capture",
): APIGatewayProxyEventV2 {
  const isText = contentType.startsWith("application/json");
  const now = new Date();
  return {
    version: "2.0",
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: "",
    headers: { "content-type": contentType, host: "api.example.com", "user-agent": "Google" },
    requestContext: {
      accountId: "000000000000",
      apiId: "bench",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: {
        method: "POST",
        path,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "Google",
      },
      requestId: randomUUID(),
      routeKey: `POST ${path}`,
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: isText ? wire : Buffer.from(wire, "utf8").toString("base64"),
    isBase64Encoded: !isText,
  };
}

/** A Lambda context as the runtime gives it (the function's 6 s timeout). */
export function fakeContext(timeoutMs = 6000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "capture",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:capture",
    memoryLimitInMB: "512",
    awsRequestId: "bench",
    logGroupName: "/aws/lambda/capture",
    logStreamName: "bench",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Deps (an outcome's, a refund's) whose queue accepts every message and sends none: SQS is not what these figures are about. */
export const withUnsentQueue = <D extends { queue: NotificationQueue }>(deps: D): D => ({
  ...deps,
  queue: { enqueue: async () => {} },
});

/**
 * Writes the bench fixture: the demo ledger (so every demo result code still works) plus `count`
 * accounts with an int64-safe huge balance and no limits, one token each. Spreading load over
 * many accounts is what production traffic looks like; one hot account would measure contention.
 */
export function writeBenchLedger(dir: string, count: number): { path: string; tokens: string[] } {
  const demo = JSON.parse(readFileSync(DEMO_LEDGER, "utf8")) as {
    accounts: unknown[];
    tokens: unknown[];
  };
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const accountId = `acct-bench-${i}`;
    const token = `gpt-bench-${i}`;
    tokens.push(token);
    // 9e15 micros (9e9 INR): below 2^53, so code that reads numbers as JS numbers stays exact too.
    demo.accounts.push({
      accountId,
      status: "ACTIVE",
      fundingSource: "AVAILABLE",
      currencies: { INR: { balance: "9000000000000000" } },
    });
    demo.tokens.push({ googlePaymentToken: token, accountId, status: "ACTIVE" });
  }
  const path = join(dir, "bench-ledger.json");
  writeFileSync(path, JSON.stringify(demo));
  return { path, tokens };
}

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Percentiles by nearest rank over the sorted samples. */
export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0)
    return { n, p50: Number.NaN, p99: Number.NaN, mean: Number.NaN, min: Number.NaN, max: Number.NaN };
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  return {
    n,
    p50: rank(0.5),
    p99: rank(0.99),
    mean: sorted.reduce((a, b) => a + b, 0) / n,
    min: sorted[0]!,
    max: sorted[n - 1]!,
  };
}

export interface LoadResult {
  /** Latency of each completed operation, ms. */
  samples: number[];
  wallMs: number;
  completed: number;
  /** Operations per second over the wall time. */
  throughput: number;
  /** Whether the time bound stopped the run before `total` operations. */
  timedOut: boolean;
  /** CPU time (user + system) this process spent during the run, ms: less sensitive to a shared machine than wall time. */
  cpuMs: number;
}

/**
 * Runs `op(i)` for i = 0..total-1 with `concurrency` in flight, stopping early at `maxMs`.
 * Any failed operation fails the run: a benchmark must not report figures of failed work.
 */
export async function runLoad(options: {
  total: number;
  concurrency: number;
  maxMs: number;
  op: (i: number) => Promise<void>;
}): Promise<LoadResult> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const deadline = started + options.maxMs;
  let timedOut = false;
  const worker = async () => {
    while (next < options.total) {
      if (performance.now() > deadline) {
        timedOut = true;
        return;
      }
      const i = next++;
      const t0 = performance.now();
      await options.op(i);
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.total) }, worker));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    samples,
    wallMs,
    completed: samples.length,
    throughput: (samples.length / wallMs) * 1000,
    timedOut,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

export interface PooledFigures extends Stats {
  /** Operations per second over the summed wall time of the runs. */
  throughput: number;
  timedOut: boolean;
  /** This process's CPU time per operation, ms. */
  cpuMsPerOp: number;
}

/** Pools the samples of several runs of the same thing (alternating rounds) into one set of figures. */
export function pooled(runs: LoadResult[]): PooledFigures {
  const samples = runs.flatMap((r) => r.samples);
  const wallMs = runs.reduce((sum, r) => sum + r.wallMs, 0);
  return {
    ...stats(samples),
    throughput: (samples.length / wallMs) * 1000,
    timedOut: runs.some((r) => r.timedOut),
    cpuMsPerOp: runs.reduce((sum, r) => sum + r.cpuMs, 0) / samples.length,
  };
}

/** Interleaves several measured variants in rounds, so drift (other load, GC, JIT) hits each alike. */
export async function interleaved<K extends string>(
  variants: Record<K, (i: number) => Promise<void>>,
  options: { rounds: number; perRound: number; warmup: number },
): Promise<{ samples: Record<K, number[]>; cpuMsPerOp: Record<K, number> }> {
  const names = Object.keys(variants) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const cpuMs = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  let i = 0;
  for (const name of names) for (let w = 0; w < options.warmup; w++) await variants[name](i++);
  for (let r = 0; r < options.rounds; r++) {
    for (const name of names) {
      const cpuBefore = process.cpuUsage();
      for (let k = 0; k < options.perRound; k++) {
        const t0 = performance.now();
        await variants[name](i++);
        samples[name].push(performance.now() - t0);
      }
      const cpu = process.cpuUsage(cpuBefore);
      cpuMs[name] += (cpu.user + cpu.system) / 1000;
    }
  }
  const cpuMsPerOp = Object.fromEntries(names.map((n) => [n, cpuMs[n] / samples[n].length])) as Record<
    K,
    number
  >;
  return { samples, cpuMsPerOp };
}

export const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "n/a");
export const ratio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "n/a");
export const num = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "n/a");
export const usd = (v: number) => `$${v.toFixed(3)}`;

export function markdownTable(table: Table): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c)).join(" | ")} |`;
  return [
    ...(table.title ? [`**${table.title}**`, ""] : []),
    line(table.headers),
    line(table.headers.map(() => "---")),
    ...table.rows.map(line),
  ].join("\n");
}

/** Throws with the first failure's detail when a check over benchmark answers fails. */
export function expectAll<T>(items: T[], ok: (item: T) => boolean, what: (item: T) => string) {
  const bad = items.filter((item) => !ok(item));
  if (bad.length > 0)
    throw new Error(`${bad.length} of ${items.length} answers were wrong; first: ${what(bad[0]!)}`);
}
