import { startLocalStack } from "../../infra/local/stack.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { type BenchContext, benchCapture, runLoad, silentLogger, stats } from "./common.ts";

/**
 * DynamoDB Local is a JVM: its first thousand requests run slower while its JIT compiles. Before any
 * module measures, run captures in-process (BatchGetItem + TransactWriteItems, the paths every module
 * uses) until the rate settles, bounded in count and time. Its figures are not reported.
 */
export async function warmDynamoDbLocal(ctx: BenchContext): Promise<string> {
  const stack = await startLocalStack({
    port: 0,
    messageCodec: "plain-json",
    ledgerSeed: ctx.benchLedger,
    prefix: ctx.prefix("warmup"),
    dynamodbEndpoint: ctx.dynamodbEndpoint,
    sqsEndpoint: ctx.sqsEndpoint,
    logger: silentLogger(),
  });
  try {
    const deps = stack.deps.capture;
    const tokens = ctx.benchTokens;
    const rounds: number[] = [];
    const deadline = performance.now() + (ctx.quick ? 5_000 : 25_000);
    for (let round = 0; round < 12 && performance.now() < deadline; round++) {
      const run = await runLoad({
        total: ctx.quick ? 100 : 250,
        concurrency: 8,
        maxMs: 10_000,
        op: async (i) => {
          const { response } = await capture(deps, benchCapture(tokens[i % tokens.length]!));
          if (response.result !== "SUCCESS") throw new Error(`warm-up capture answered ${response.result}`);
        },
      });
      rounds.push(stats(run.samples).p50);
      // Settled: two rounds in a row within 10% of each other.
      const [a, b] = rounds.slice(-2);
      if (a !== undefined && b !== undefined && Math.abs(a - b) / b < 0.1) break;
    }
    return rounds.map((p) => p.toFixed(1)).join(" → ");
  } finally {
    await stack.stop();
  }
}
