import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { build } from "esbuild";
import { standInGoogleKeyring } from "../../infra/google/client.ts";
import { LOCAL_AWS } from "../../infra/local/emulators.ts";
import { startLocalStack } from "../../infra/local/stack.ts";
import { functions } from "../../infra/resources.ts";
import { type RuntimeConfig, runtimeEnv } from "../../shared/config.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import type { Keyring } from "../../shared/security/keyring.ts";
import { type BenchModule, benchCapture, ms, num, silentLogger, stats } from "./common.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CHILD = resolve(import.meta.dirname, "cold-start-child.mjs");
const BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";
const CHILD_TIMEOUT_MS = 60_000;

interface BundleFigures {
  entry: string;
  minifiedBytes: number;
  gzipBytes: number;
  sourcemapBytes: number;
  bannerNeeded: boolean;
  /** Largest contributors to the minified output, by package. */
  topPackages: [string, number][];
}

interface ChildReport {
  processStartedMs: number;
  importMs: number;
  durations: number[];
  statuses: number[];
  first: { statusCode: number; headers: Record<string, string>; body: string };
  last: { statusCode: number; headers: Record<string, string>; body: string };
  maxRssKb: number;
  heapUsedBytes: number;
}

/**
 * Bundles a handler as CDK's NodejsFunction would for an ESM Node 24 function: bundled, minified,
 * ESM, platform node, target node24, external source map, the AWS SDK v3 left to the runtime.
 */
async function bundle(entry: string, outdir: string): Promise<BundleFigures> {
  const outfile = join(outdir, "index.mjs");
  const options = {
    entryPoints: [resolve(ROOT, entry)],
    bundle: true,
    minify: true,
    format: "esm" as const,
    platform: "node" as const,
    target: "node24",
    sourcemap: "external" as const,
    external: ["@aws-sdk/*"],
    outfile,
    metafile: true,
    logLevel: "error" as const,
  };
  let result = await build(options);
  // esbuild turns a CJS dependency's require() into a shim that throws in ESM; the banner gives it a real require.
  const bannerNeeded = readFileSync(outfile, "utf8").includes("Dynamic require of");
  if (bannerNeeded) result = await build({ ...options, banner: { js: BANNER } });
  const output = Object.values(result.metafile!.outputs).find((o) => o.entryPoint)!;
  const byPackage = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? "(this repository)";
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + input.bytesInOutput);
  }
  const code = readFileSync(outfile);
  return {
    entry,
    minifiedBytes: code.length,
    gzipBytes: gzipSync(code).length,
    sourcemapBytes: statSync(`${outfile}.map`).size,
    bannerNeeded,
    topPackages: [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 4),
  };
}

/** An API Gateway HTTP API (payload 2.0) event for POST /v1/capture, binary bodies base64-encoded as API Gateway does. */
function apiGatewayEvent(wire: string, contentType: string): APIGatewayProxyEventV2 {
  const isText = contentType.startsWith("application/json");
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "POST /v1/capture",
    rawPath: "/v1/capture",
    rawQueryString: "",
    headers: { "content-type": contentType, host: "api.example.com", "user-agent": "Google" },
    requestContext: {
      accountId: "000000000000",
      apiId: "bench",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: {
        method: "POST",
        path: "/v1/capture",
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "Google",
      },
      requestId: randomUUID(),
      routeKey: "POST /v1/capture",
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: isText ? wire : Buffer.from(wire, "utf8").toString("base64"),
    isBase64Encoded: !isText,
  };
}

async function events(tokens: string[], count: number, keyring: Keyring | undefined) {
  const bodies = Array.from({ length: count }, (_, i) =>
    JSON.stringify(benchCapture(tokens[i % tokens.length]!)),
  );
  if (!keyring) return bodies.map((b) => apiGatewayEvent(b, "application/json"));
  const wires = await Promise.all(bodies.map((b) => seal(b, keyring)));
  return wires.map((w) => apiGatewayEvent(w, "application/octet-stream; charset=utf-8"));
}

function runChild(
  bundleFile: string,
  eventsFile: string,
  outFile: string,
  env: Record<string, string>,
  maxMs: number,
): Promise<ChildReport> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [CHILD, bundleFile, eventsFile, outFile, String(maxMs)],
      { env, timeout: CHILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, killSignal: "SIGKILL" },
      (error, _stdout, stderr) => {
        if (error)
          return reject(new Error(`cold-start child failed: ${error.message}\n${stderr.slice(-2000)}`));
        resolvePromise(JSON.parse(readFileSync(outFile, "utf8")) as ChildReport);
      },
    );
  });
}

/** Every answer 200, and the first and last opened (verified when sealed) and SUCCESS. */
async function check(report: ChildReport, keyring: Keyring | undefined) {
  const bad = report.statuses.filter((s) => s !== 200);
  if (bad.length > 0)
    throw new Error(`${bad.length} invocations did not answer 200: ${report.last.body.slice(0, 200)}`);
  for (const answer of [report.first, report.last]) {
    const json = keyring ? await open(answer.body, keyring) : answer.body;
    const result = JSON.parse(json).result;
    if (result !== "SUCCESS") throw new Error(`the handler answered ${result}`);
  }
}

export const bundlesBench: BenchModule = {
  id: "bundles",
  title: "5. Per-function bundle size, cold start and peak memory",
  async run(ctx) {
    const dir = join(ctx.workDir, "bundles");
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    // The Lambda Node.js runtime provides the AWS SDK v3: only @aws-sdk is resolvable beside the bundles.
    if (!existsSync(join(dir, "node_modules", "@aws-sdk")))
      symlinkSync(join(ROOT, "node_modules", "@aws-sdk"), join(dir, "node_modules", "@aws-sdk"), "dir");

    const entries = readdirSync(join(ROOT, "functions"))
      .filter((f) => existsSync(join(ROOT, "functions", f, "handler.ts")))
      .sort();
    const bundles: Record<string, BundleFigures> = {};
    for (const name of entries) {
      bundles[name] = await bundle(`functions/${name}/handler.ts`, join(dir, name));
      ctx.log(`  ${name}: ${bundles[name].minifiedBytes} bytes minified`);
    }

    // What importing openpgp alone costs: the same build of a module that only re-exports it.
    const openpgpOnly = join(dir, "openpgp-only", "index.mjs");
    await build({
      stdin: { contents: 'export * as openpgp from "openpgp";', resolveDir: ROOT, loader: "js" },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "node",
      target: "node24",
      outfile: openpgpOnly,
      logLevel: "error",
    });
    const noEvents = join(dir, "no-events.json");
    writeFileSync(noEvents, "[]");

    // Cold start of the capture function: the only Google-facing route with a known event shape.
    const stack = await startLocalStack({
      port: 0,
      messageCodec: "openpgp",
      keysDir: ctx.keysDir,
      ledgerSeed: ctx.benchLedger,
      prefix: ctx.prefix("bundles"),
      dynamodbEndpoint: ctx.dynamodbEndpoint,
      sqsEndpoint: ctx.sqsEndpoint,
      logger: silentLogger(),
    });
    const google = await standInGoogleKeyring(ctx.keysDir);
    const processes = ctx.quick ? 2 : 5;
    const loopCount = ctx.quick ? 50 : 500;
    const cold: Record<
      string,
      { importMs: number[]; firstMs: number[]; secondMs: number[]; startMs: number[] }
    > = {};
    let openpgpImportMs = Number.NaN;
    const memory: Record<
      string,
      { invocations: number; maxRssKb: number; heapUsedBytes: number; p50: number }
    > = {};
    try {
      const bundleFile = join(dir, "capture", "index.mjs");
      const codecs = ["openpgp", "plain-json"] as const;
      const keyringOf = (codec: (typeof codecs)[number]) => (codec === "openpgp" ? google : undefined);
      const envOf = (codec: (typeof codecs)[number]) => {
        const config: RuntimeConfig = { ...stack.config, messageCodec: codec };
        if (codec === "plain-json") delete config.keys;
        return {
          PATH: process.env.PATH ?? "",
          ...runtimeEnv(config),
          AWS_REGION: LOCAL_AWS.region,
          AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
          AWS_ENDPOINT_URL_DYNAMODB: ctx.dynamodbEndpoint,
          AWS_LAMBDA_FUNCTION_NAME: "capture",
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(functions.capture.memoryMb),
        };
      };
      for (const codec of codecs) cold[codec] = { importMs: [], firstMs: [], secondMs: [], startMs: [] };
      const openpgpImport: number[] = [];
      // New processes, the codecs alternating, so drift on the machine hits both alike.
      for (let p = 0; p < processes; p++) {
        for (const codec of codecs) {
          const keyring = keyringOf(codec);
          const eventsFile = join(dir, `cold-${codec}-${p}.json`);
          writeFileSync(eventsFile, JSON.stringify(await events(ctx.benchTokens, 2, keyring)));
          const out = join(dir, `cold-${codec}-${p}.out.json`);
          const report = await runChild(bundleFile, eventsFile, out, envOf(codec), 30_000);
          await check(report, keyring);
          const figures = cold[codec]!;
          figures.importMs.push(report.importMs);
          figures.firstMs.push(report.durations[0]!);
          figures.secondMs.push(report.durations[1]!);
          figures.startMs.push(report.processStartedMs);
        }
        const alone = await runChild(
          openpgpOnly,
          noEvents,
          join(dir, `openpgp-only-${p}.out.json`),
          {},
          10_000,
        );
        openpgpImport.push(alone.importMs);
      }
      openpgpImportMs = stats(openpgpImport).p50;
      for (const codec of codecs) {
        const f = cold[codec]!;
        ctx.log(
          `  ${codec}: cold import ${ms(stats(f.importMs).p50)} ms, first invocation ${ms(stats(f.firstMs).p50)} ms`,
        );
        // Peak memory over a loop of invocations (requests sealed up front, inside the ±60 s window).
        const keyring = keyringOf(codec);
        const loopFile = join(dir, `loop-${codec}.json`);
        writeFileSync(loopFile, JSON.stringify(await events(ctx.benchTokens, loopCount, keyring)));
        const loop = await runChild(
          bundleFile,
          loopFile,
          join(dir, `loop-${codec}.out.json`),
          envOf(codec),
          40_000,
        );
        await check(loop, keyring);
        memory[codec] = {
          invocations: loop.durations.length,
          maxRssKb: loop.maxRssKb,
          heapUsedBytes: loop.heapUsedBytes,
          p50: stats(loop.durations.slice(1)).p50,
        };
      }
    } finally {
      await stack.stop();
    }

    const kb = (b: number) => `${num(b / 1024, 1)} KiB`;
    return {
      tables: [
        {
          title:
            "Bundle size (esbuild, as CDK NodejsFunction: bundle, minify, ESM, node24, @aws-sdk/* external)",
          headers: [
            "function",
            "minified",
            "gzip",
            "source map",
            "CJS banner needed",
            "largest packages in the bundle",
          ],
          rows: Object.values(bundles).map((b) => [
            b.entry,
            `${b.minifiedBytes} B (${kb(b.minifiedBytes)})`,
            kb(b.gzipBytes),
            kb(b.sourcemapBytes),
            b.bannerNeeded ? "yes" : "no",
            b.topPackages.map(([p, bytes]) => `${p} ${kb(bytes)}`).join(", "),
          ]),
        },
        {
          title: `Cold start of functions/capture (median of ${processes} new processes)`,
          headers: [
            "codec",
            "node start → driver ms",
            "import bundle ms",
            "first invocation ms",
            "import + first ms",
            "second invocation ms",
          ],
          rows: [
            ...Object.entries(cold).map(([codec, f]) => [
              codec,
              ms(stats(f.startMs).p50),
              ms(stats(f.importMs).p50),
              ms(stats(f.firstMs).p50),
              ms(stats(f.importMs.map((v, i) => v + f.firstMs[i]!)).p50),
              ms(stats(f.secondMs).p50),
            ]),
            ["(a bundle of openpgp alone, same build)", "", ms(openpgpImportMs), "", "", ""],
          ],
        },
        {
          title: "Peak memory (one process, invocations in a loop)",
          headers: [
            "codec",
            "invocations",
            "maxRSS",
            "heap used at end",
            "invocation p50 ms (after the first)",
          ],
          rows: Object.entries(memory).map(([codec, m]) => [
            codec,
            m.invocations,
            `${num(m.maxRssKb / 1024, 1)} MiB`,
            `${num(m.heapUsedBytes / 1024 / 1024, 1)} MiB`,
            ms(m.p50),
          ]),
        },
      ],
      notes: [
        "Cold start: a new `node` process (the same Node 24) imports the bundle from a scratch folder where only `@aws-sdk/*` resolves (a link to this repository's copy, standing in for the SDK the Lambda runtime ships), then invokes `handler` with a real API Gateway v2 event (sealed body, base64-encoded, for OpenPGP) against the local stack's tables in DynamoDB Local. Environment: `runtimeEnv(config)` + AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, dummy credentials.",
        "The first invocation holds what the handler builds lazily: configuration, the DynamoDB client and its first connection, and for OpenPGP the keyring load from KEYS_DIR (files here; Secrets Manager in a deployment, one more network call not measured). Lambda's own init (runtime bootstrap, code download) is not part of this.",
        "The handler writes its JSON log line per invocation to stdout (piped, discarded) in these processes, as in Lambda. Powertools Tracer is in the bundle (aws-xray-sdk-core) and imported, but inactive: it traces only when AWS_EXECUTION_ENV says it runs in Lambda, so segment creation and emission are not in these figures.",
      ],
      headlines: [
        `functions/capture: ${kb(bundles.capture?.minifiedBytes ?? Number.NaN)} minified (openpgp ${kb(bundles.capture?.topPackages.find(([p]) => p === "openpgp")?.[1] ?? 0)} of it); cold start, OpenPGP: import ${ms(stats(cold.openpgp!.importMs).p50)} ms + first invocation ${ms(stats(cold.openpgp!.firstMs).p50)} ms; peak RSS ${num((memory.openpgp?.maxRssKb ?? Number.NaN) / 1024, 0)} MiB over ${memory.openpgp?.invocations} invocations.`,
      ],
      data: { bundles, cold, openpgpImportMs, memory },
    };
  },
};
