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
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { build } from "esbuild";
import { EXTERNAL_MODULES, shipOpenpgpLazyModules } from "../../infra/bundling.ts";
import { callIntegrator, standInGoogleKeyring } from "../../infra/google/client.ts";
import { LOCAL_AWS } from "../../infra/local/emulators.ts";
import { startLocalStack } from "../../infra/local/stack.ts";
import { functions } from "../../infra/resources.ts";
import { type RuntimeConfig, runtimeEnv } from "../../shared/config.ts";
import { recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import type { Keyring } from "../../shared/security/keyring.ts";
import {
  apiGatewayEvent,
  type BenchModule,
  benchAsynchronousCapture,
  benchCapture,
  benchOutcome,
  ms,
  num,
  PIAID,
  silentLogger,
  stats,
  withUnsentQueue,
} from "./common.ts";

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
  /** openpgp's lazy modules written beside a bundle that holds openpgp (infra/bundling.ts), loaded on first use only. */
  besideBytes: number;
}

interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

interface ChildReport {
  processStartedMs: number;
  importMs: number;
  durations: number[];
  /** HTTP functions' status codes (undefined for the others). */
  statuses: (number | undefined)[];
  first: unknown;
  last: unknown;
  maxRssKb: number;
  heapUsedBytes: number;
}

/**
 * Bundles a handler as CDK's NodejsFunction would for an ESM Node 24 function: bundled, minified,
 * ESM, platform node, target node24, external source map, the AWS SDK v3 left to the runtime, and
 * openpgp's lazy modules left out and written beside the bundle (infra/bundling.ts).
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
    external: EXTERNAL_MODULES,
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
  // As CDK does for a function that holds keys (infra/cdk/constructs/gsp-function.ts).
  const beside = byPackage.has("openpgp") ? shipOpenpgpLazyModules(outdir) : [];
  return {
    entry,
    minifiedBytes: code.length,
    gzipBytes: gzipSync(code).length,
    sourcemapBytes: statSync(`${outfile}.map`).size,
    bannerNeeded,
    topPackages: [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 4),
    besideBytes: beside.reduce(
      (sum, f) => sum + (f.endsWith(".mjs") ? statSync(join(outdir, f)).size : 0),
      0,
    ),
  };
}

/** The role the bench's outcome events come from, and the only one the outcome function admits here. */
const OUTCOME_CALLER = "arn:aws:iam::000000000000:role/bench-outcome-reporter";

/** Sealed (or plain) API Gateway events of Google requests to `path`: `bodies` as Google builds them. */
async function googleEvents(bodies: Record<string, unknown>[], keyring: Keyring | undefined, path: string) {
  const texts = bodies.map((b) => JSON.stringify(b));
  if (!keyring) return texts.map((b) => apiGatewayEvent(b, "application/json", path));
  const wires = await Promise.all(texts.map((b) => seal(b, keyring)));
  return wires.map((w) => apiGatewayEvent(w, "application/octet-stream; charset=utf-8", path));
}

const captureEvents = (tokens: string[], count: number, keyring: Keyring | undefined) =>
  googleEvents(
    Array.from({ length: count }, (_, i) => benchCapture(tokens[i % tokens.length]!)),
    keyring,
    "/v1/capture",
  );

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

/** Every answer 200, and the first and last opened (verified when sealed) with the `expected` result. */
async function checkGoogleAnswers(report: ChildReport, keyring: Keyring | undefined, expected = "SUCCESS") {
  const bad = report.statuses.filter((s) => s !== 200);
  if (bad.length > 0)
    throw new Error(
      `${bad.length} invocations did not answer 200: ${(report.last as HttpAnswer).body.slice(0, 200)}`,
    );
  for (const answer of [report.first, report.last] as HttpAnswer[]) {
    const json = keyring ? await open(answer.body, keyring) : answer.body;
    const result = JSON.parse(json).result;
    if (result !== expected) throw new Error(`the handler answered ${result}`);
  }
}

/** The demo VPA: asynchronous captures of 1 INR on it are acknowledged, and approved by its ledger. */
const VPA = "customer@demobank";

/** An SQS event of one notification message, as Lambda's event source mapping delivers it. */
function sqsEvent(message: object): SQSEvent {
  const now = String(Date.now());
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body: JSON.stringify(message),
        attributes: {
          ApproximateReceiveCount: "1",
          SentTimestamp: now,
          SenderId: "000000000000",
          ApproximateFirstReceiveTimestamp: now,
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:notifications",
        awsRegion: "us-east-1",
      },
    ],
  };
}

/** An EventBridge Scheduler / scheduled rule event, as the sweeper's schedule sends it. */
const scheduledEvent = () => ({
  version: "0",
  id: randomUUID(),
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "000000000000",
  time: new Date().toISOString(),
  region: "us-east-1",
  resources: ["arn:aws:events:us-east-1:000000000000:rule/sweeper"],
  detail: {},
});

/** One function's cold start: the events of one new process (first and second invocation) and their check. */
interface ColdCase {
  events(): Promise<unknown[]>;
  check(report: ChildReport): Promise<void>;
}

export const bundlesBench: BenchModule = {
  id: "bundles",
  title: "6. Per-function bundle size, cold start and peak memory",
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
      external: EXTERNAL_MODULES,
      outfile: openpgpOnly,
      logLevel: "error",
    });
    shipOpenpgpLazyModules(join(dir, "openpgp-only"));
    const noEvents = join(dir, "no-events.json");
    writeFileSync(noEvents, "[]");

    // Cold start of every function, each with the event its trigger sends and the records that event needs.
    const stack = await startLocalStack({
      port: 0,
      messageCodec: "openpgp",
      keysDir: ctx.keysDir,
      ledgerSeed: ctx.benchLedger,
      prefix: ctx.prefix("bundles"),
      dynamodbEndpoint: ctx.dynamodbEndpoint,
      sqsEndpoint: ctx.sqsEndpoint,
      sweepIntervalMs: 0,
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
    type Codec = RuntimeConfig["messageCodec"];
    const keyringOf = (codec: Codec) => (codec === "openpgp" ? google : undefined);
    const definitionOf = (folder: string) =>
      Object.entries(functions).find(([, f]) => f.entry === `functions/${folder}/handler.ts`);
    const envOf = (folder: string, codec: Codec) => {
      const [name, definition] = definitionOf(folder) ?? [folder, undefined];
      const config: RuntimeConfig = { ...stack.config, messageCodec: codec };
      // As the CDK app does: keys only for the functions that open, seal or sign.
      const usesKeys =
        definition && ("servesGoogle" in definition || "callsGoogle" in definition) && codec === "openpgp";
      if (!usesKeys) delete config.keys;
      return {
        PATH: process.env.PATH ?? "",
        ...runtimeEnv(config),
        AWS_REGION: LOCAL_AWS.region,
        AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: ctx.dynamodbEndpoint,
        AWS_ENDPOINT_URL_SQS: ctx.sqsEndpoint,
        // The plain-JSON comparison cannot claim to be Lambda: a deployed function refuses that codec.
        ...(codec === "openpgp" && { AWS_LAMBDA_FUNCTION_NAME: name }),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(definition?.memoryMb ?? 512),
        // The outcome function admits only the integrator's roles, as deployed (shared/http/caller.ts).
        OUTCOME_CALLER_ARNS: OUTCOME_CALLER,
      };
    };
    /** PENDING asynchronous captures, acknowledged through the local gateway (as Google's requests would be). */
    const pendingCaptures = async (count: number) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const body = benchAsynchronousCapture(VPA);
        const reply = await callIntegrator(stack.url, "/v1/asynchronousCapture", body, { keyring: google });
        if (reply.body.result !== "ACKNOWLEDGED") throw new Error(`acknowledge answered ${reply.text}`);
        ids.push((body.requestHeader as { requestId: string }).requestId);
      }
      return ids;
    };
    const cases: Record<string, ColdCase> = {
      "capture (openpgp)": {
        events: () => captureEvents(ctx.benchTokens, 2, google),
        check: (report) => checkGoogleAnswers(report, google),
      },
      "capture (plain-json)": {
        events: () => captureEvents(ctx.benchTokens, 2, undefined),
        check: (report) => checkGoogleAnswers(report, undefined),
      },
      "asynchronous-capture (openpgp)": {
        events: () =>
          googleEvents(
            [benchAsynchronousCapture(VPA), benchAsynchronousCapture(VPA)],
            google,
            "/v1/asynchronousCapture",
          ),
        check: (report) => checkGoogleAnswers(report, google, "ACKNOWLEDGED"),
      },
      "capture-outcome": {
        // The integrator's systems call it with JSON (IAM-signed in the cloud; the event is what API Gateway passes on).
        events: async () =>
          (await pendingCaptures(2)).map((id) => {
            const event = apiGatewayEvent(
              JSON.stringify(benchOutcome(id)),
              "application/json",
              "/internal/v1/captureOutcome",
            );
            // The caller's identity, as API Gateway passes it on after IAM authorisation.
            (event.requestContext as unknown as Record<string, unknown>).authorizer = {
              iam: { userArn: OUTCOME_CALLER },
            };
            return event;
          }),
        check: async (report) => {
          for (const answer of [report.first, report.last] as HttpAnswer[]) {
            const body = JSON.parse(answer.body) as { captureResult?: { captureResultCode?: string } };
            if (answer.statusCode !== 200 || body.captureResult?.captureResultCode !== "SUCCESS")
              throw new Error(`captureOutcome answered ${answer.statusCode} ${answer.body.slice(0, 200)}`);
          }
        },
      },
      notifier: {
        // Outcomes recorded but not sent: what the queue holds; each event is one SQS message of one.
        events: async () => {
          const unsent = withUnsentQueue(stack.deps.outcome);
          const ids = await pendingCaptures(2);
          for (const id of ids) await recordCaptureOutcome(unsent, benchOutcome(id));
          return ids.map((id) => sqsEvent({ paymentIntegratorAccountId: PIAID, captureRequestId: id }));
        },
        check: async (report) => {
          for (const answer of [report.first, report.last] as SQSBatchResponse[]) {
            if (answer.batchItemFailures.length > 0) throw new Error("the notifier failed a delivery");
          }
        },
      },
      sweeper: {
        // A scheduled pass over the sweep index, with nothing due: the four index queries and no write.
        events: async () => [scheduledEvent(), scheduledEvent()],
        check: async (report) => {
          const counts = report.first as { expired?: number };
          if (typeof counts?.expired !== "number")
            throw new Error(`the sweeper answered ${JSON.stringify(counts)}`);
        },
      },
    };
    const folderOf = (label: string) => label.split(" ")[0]!;
    const codecOf = (label: string): Codec => (label.includes("(plain-json)") ? "plain-json" : "openpgp");
    // A function the bench has no event for still has its import timed (first invocation: none).
    for (const folder of entries) {
      if (!Object.keys(cases).some((label) => folderOf(label) === folder))
        cases[`${folder} (import only: no event known to the bench)`] = {
          events: async () => [],
          check: async () => {},
        };
    }
    try {
      for (const label of Object.keys(cases))
        cold[label] = { importMs: [], firstMs: [], secondMs: [], startMs: [] };
      const openpgpImport: number[] = [];
      // New processes, the functions alternating, so drift on the machine hits all alike.
      for (let p = 0; p < processes; p++) {
        for (const [label, c] of Object.entries(cases)) {
          const folder = folderOf(label);
          const eventsFile = join(dir, `cold-${folder}-${codecOf(label)}-${p}.json`);
          writeFileSync(eventsFile, JSON.stringify(await c.events()));
          const out = join(dir, `cold-${folder}-${codecOf(label)}-${p}.out.json`);
          const report = await runChild(
            join(dir, folder, "index.mjs"),
            eventsFile,
            out,
            envOf(folder, codecOf(label)),
            30_000,
          );
          if (report.durations.length > 0) await c.check(report);
          const figures = cold[label]!;
          figures.importMs.push(report.importMs);
          if (report.durations.length > 0) {
            figures.firstMs.push(report.durations[0]!);
            figures.secondMs.push(report.durations[1]!);
          }
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
      for (const [label, f] of Object.entries(cold)) {
        ctx.log(
          `  ${label}: cold import ${ms(stats(f.importMs).p50)} ms, first invocation ${ms(stats(f.firstMs).p50)} ms`,
        );
      }
      // Peak memory of the capture function over a loop of invocations (requests sealed up front, inside the ±60 s window).
      for (const codec of ["openpgp", "plain-json"] as const) {
        const keyring = keyringOf(codec);
        const loopFile = join(dir, `loop-${codec}.json`);
        writeFileSync(loopFile, JSON.stringify(await captureEvents(ctx.benchTokens, loopCount, keyring)));
        const loop = await runChild(
          join(dir, "capture", "index.mjs"),
          loopFile,
          join(dir, `loop-${codec}.out.json`),
          envOf("capture", codec),
          40_000,
        );
        await checkGoogleAnswers(loop, keyring);
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
            "Bundle size (esbuild, as CDK NodejsFunction: bundle, minify, ESM, node24, @aws-sdk/* and openpgp/lazy/* external)",
          headers: [
            "function",
            "minified",
            "gzip",
            "beside it, loaded on first use only",
            "source map",
            "CJS banner needed",
            "largest packages in the bundle",
          ],
          rows: Object.values(bundles).map((b) => [
            b.entry,
            `${b.minifiedBytes} B (${kb(b.minifiedBytes)})`,
            kb(b.gzipBytes),
            b.besideBytes ? `${kb(b.besideBytes)} (openpgp/lazy/*)` : "",
            kb(b.sourcemapBytes),
            b.bannerNeeded ? "yes" : "no",
            b.topPackages.map(([p, bytes]) => `${p} ${kb(bytes)}`).join(", "),
          ]),
        },
        {
          title: `Cold start of every function (median of ${processes} new processes each)`,
          headers: [
            "function",
            "node start → driver ms",
            "import bundle ms",
            "first invocation ms",
            "import + first ms",
            "second invocation ms",
          ],
          rows: [
            ...Object.entries(cold).map(([label, f]) => [
              `functions/${label}`,
              ms(stats(f.startMs).p50),
              ms(stats(f.importMs).p50),
              ms(stats(f.firstMs).p50),
              ms(stats(f.importMs.map((v, i) => v + (f.firstMs[i] ?? Number.NaN))).p50),
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
        "Cold start: a new `node` process (the same Node 24) imports the bundle from a scratch folder where only `@aws-sdk/*` resolves (a link to this repository's copy, standing in for the SDK the Lambda runtime ships), and openpgp's lazy modules as shipped beside the bundle (none of them is loaded by these RSA-only invocations), then invokes `handler` twice with the event its trigger sends, against the local stack's tables in DynamoDB Local and queue in fauxqs: capture and asynchronous-capture an API Gateway v2 event of a sealed request (base64-encoded); capture-outcome an API Gateway v2 event of an APPROVED outcome (JSON) for a capture acknowledged just before; notifier an SQS event of one message for an outcome recorded but not yet sent (it delivers to the stack's stand-in Google); sweeper a scheduled event with nothing due. Environment: `runtimeEnv(config)` (keys only for the functions that open, seal or sign, as the CDK app sets them) + AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, AWS_REGION, dummy credentials.",
        "The first invocation holds what the handler builds lazily: configuration, the DynamoDB client and its first connection, and for OpenPGP the keyring load from KEYS_DIR (files here; Secrets Manager in a deployment, one more network call not measured). Lambda's own init (runtime bootstrap, code download) is not part of this.",
        "The handler writes its JSON log line per invocation to stdout (piped, discarded) in these processes, as in Lambda. No tracing library is in the bundles: Lambda's own active tracing records each invocation's segment outside the process.",
      ],
      headlines: [
        `functions/capture: ${kb(bundles.capture?.minifiedBytes ?? Number.NaN)} minified (openpgp ${kb(bundles.capture?.topPackages.find(([p]) => p === "openpgp")?.[1] ?? 0)} of it); cold start, OpenPGP: import ${ms(stats(cold["capture (openpgp)"]!.importMs).p50)} ms + first invocation ${ms(stats(cold["capture (openpgp)"]!.firstMs).p50)} ms; peak RSS ${num((memory.openpgp?.maxRssKb ?? Number.NaN) / 1024, 0)} MiB over ${memory.openpgp?.invocations} invocations.`,
        `Cold import + first invocation, every function: ${Object.entries(cold)
          .map(
            ([label, f]) => `${label} ${ms(stats(f.importMs.map((v, i) => v + (f.firstMs[i] ?? 0))).p50)} ms`,
          )
          .join(", ")}.`,
      ],
      data: { bundles, cold, openpgpImportMs, memory },
    };
  },
};
