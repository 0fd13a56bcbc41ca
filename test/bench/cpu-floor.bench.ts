import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { createCaptureHandler } from "../../functions/capture/handler.ts";
import { standInGoogleKeyring } from "../../infra/google/client.ts";
import { startLocalStack } from "../../infra/local/stack.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import { dynamoDbFloor } from "./capture.bench.ts";
import {
  apiGatewayEvent,
  type BenchModule,
  benchCapture,
  fakeContext,
  interleaved,
  ms,
  ratio,
  silentLogger,
  stats,
} from "./common.ts";
import { countingClient } from "./dynamodb-meter.ts";
import { rsaFloor } from "./envelope.bench.ts";

/** Figures of this repository's earlier committed run, quoted (not measured here) for the before/after. */
const COMMITTED_BEFORE = {
  /** Capture with OpenPGP, sequential, in-process (issue 10's profile of the committed build). */
  inProcessOpenpgpP50Ms: 15.6,
  /** Node CPU per capture over the floor (SDK calls + RSA floor), the same profile. */
  cpuOverFloor: "2.0–2.6×",
};

type Handler = (event: unknown, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * One sealed capture through the real capture handler in this process (no HTTP, no gateway): the
 * envelope, validation, the ledger read and write, the sealed answer. Against its floor: the same
 * DynamoDB round trips sent bare with the SDK plus the RSA work on node:crypto with keys parsed once.
 */
export const cpuFloorBench: BenchModule = {
  id: "cpu",
  title: "5. Node CPU per capture with OpenPGP, against its floor (in-process, sequential)",
  async run(ctx) {
    const stack = await startLocalStack({
      port: 0,
      messageCodec: "openpgp",
      keysDir: ctx.keysDir,
      ledgerSeed: ctx.benchLedger,
      prefix: ctx.prefix("cpu"),
      sweepIntervalMs: 0,
      dynamodbEndpoint: ctx.dynamodbEndpoint,
      sqsEndpoint: ctx.sqsEndpoint,
      logger: silentLogger(),
    });
    // The floor's SDK calls on a client of their own, configured as the stack's (a command counter included).
    const floorDb = countingClient(ctx.dynamodbEndpoint);
    try {
      // The stack's own deps (loaded at its start-up): the handler, and the server keyring the RSA floor uses.
      const handler = createCaptureHandler(stack.deps) as unknown as Handler;
      const server = await stack.deps.keyring!.get();
      const google = await standInGoogleKeyring(ctx.keysDir);
      const tokens = ctx.benchTokens;
      const contentType = "application/octet-stream; charset=utf-8";
      // Sealed as Google would, a round ahead of use (inside the ±60 s requestTimestamp window), off the clock.
      const perRound = ctx.quick ? 10 : 40;
      let events: ReturnType<typeof apiGatewayEvent>[] = [];
      let used = 0;
      const refill = async () => {
        const bodies = Array.from({ length: perRound * 2 }, (_, i) =>
          JSON.stringify(benchCapture(tokens[i % tokens.length]!)),
        );
        events = (await Promise.all(bodies.map((b) => seal(b, google)))).map((w) =>
          apiGatewayEvent(w, contentType),
        );
        used = 0;
      };
      const answers: APIGatewayProxyStructuredResultV2[] = [];
      const sdkFloor = dynamoDbFloor(floorDb.client, stack.config.tables, tokens);
      const rsa = await rsaFloor(server, google, 1024);
      const variants = {
        capture: async () => {
          answers.push(await handler(events[used++]!, fakeContext()));
        },
        floor: async (i: number) => {
          rsa();
          await sdkFloor(i);
        },
        sdkFloor: async (i: number) => sdkFloor(i),
        rsaFloor: async () => rsa(),
      };
      const rounds = ctx.quick ? 3 : 8;
      const samples: Record<keyof typeof variants, number[]> = {
        capture: [],
        floor: [],
        sdkFloor: [],
        rsaFloor: [],
      };
      const cpu: Record<keyof typeof variants, number> = { capture: 0, floor: 0, sdkFloor: 0, rsaFloor: 0 };
      ctx.log("  warming up");
      await refill();
      await interleaved(variants, { rounds: 1, perRound: 10, warmup: 10 });
      for (let r = 0; r < rounds; r++) {
        await refill();
        const round = await interleaved(variants, { rounds: 1, perRound, warmup: 0 });
        for (const k of Object.keys(variants) as (keyof typeof variants)[]) {
          samples[k].push(...round.samples[k]);
          cpu[k] += round.cpuMsPerOp[k] / rounds;
        }
      }
      // Every timed answer a sealed SUCCESS (checked after the clock).
      for (const answer of answers) {
        if (answer.statusCode !== 200) throw new Error(`capture answered ${answer.statusCode}`);
        const json = JSON.parse(await open(answer.body!, google));
        if (json.result !== "SUCCESS") throw new Error(`capture answered ${json.result}`);
      }
      const s = {
        capture: stats(samples.capture),
        floor: stats(samples.floor),
        sdkFloor: stats(samples.sdkFloor),
        rsaFloor: stats(samples.rsaFloor),
      };
      const floorCpu = cpu.sdkFloor + cpu.rsaFloor;
      const row = (name: string, k: keyof typeof s, vsFloor: boolean) => [
        name,
        s[k].n,
        ms(s[k].p50),
        ms(s[k].p99),
        vsFloor ? ratio(s[k].p50 / s.floor.p50) : "",
        ms(cpu[k]),
        vsFloor ? ratio(cpu[k] / floorCpu) : "",
      ];
      const cpuRatio = cpu.capture / floorCpu;
      return {
        tables: [
          {
            headers: [
              "operation",
              "n",
              "p50 ms",
              "p99 ms",
              "p50 / floor",
              "CPU ms per op (mean)",
              "CPU / floor (SDK floor + RSA floor)",
            ],
            rows: [
              row(
                "capture handler, OpenPGP: open + validate + read + decide + write + seal",
                "capture",
                true,
              ),
              row("floor: RSA floor + DynamoDB floor, one after the other", "floor", false),
              row(
                "… DynamoDB floor alone: BatchGetItem (2 keys) + TransactWriteItems (2 items), bare SDK",
                "sdkFloor",
                false,
              ),
              row("… RSA floor alone: node:crypto, keys parsed once (as module 1)", "rsaFloor", false),
            ],
          },
        ],
        notes: [
          "All four run in this one process, interleaved in rounds (each round's requests sealed by the stand-in Google before the round, off the clock), sequentially, against the same DynamoDB Local; the capture is `createCaptureHandler(deps)` on the local stack's `serviceDeps(config)`, invoked with an API Gateway v2 event, as the Lambda runtime would, so its figures hold the middy chain, the log line, the envelope and the SDK, but no HTTP and no gateway.",
          "CPU ms per op: this process's user + system time over a variant's operations divided by their count (DynamoDB Local's JVM is not in it). The floor's CPU is the sum of its two parts measured alone: the SDK's own cost of the two round trips (marshalling, signing, HTTP) and the RSA work. What the capture spends over that is ours and openpgp's.",
          `Before (the committed build, not measured in this run): capture with OpenPGP in-process, sequential, p50 ${COMMITTED_BEFORE.inProcessOpenpgpP50Ms} ms; Node CPU per capture ${COMMITTED_BEFORE.cpuOverFloor} the floor.`,
        ],
        headlines: [
          `Node CPU per capture with OpenPGP (in-process, sequential): ${ms(cpu.capture)} ms, ${ratio(cpuRatio)} its floor (SDK calls ${ms(cpu.sdkFloor)} + RSA ${ms(cpu.rsaFloor)} ms); p50 ${ms(s.capture.p50)} ms, ${ratio(s.capture.p50 / COMMITTED_BEFORE.inProcessOpenpgpP50Ms)} the committed ${COMMITTED_BEFORE.inProcessOpenpgpP50Ms} ms.`,
        ],
        data: { ...s, cpuMsPerOp: cpu, floorCpuMs: floorCpu, cpuOverFloor: cpuRatio },
      };
    } finally {
      floorDb.client.destroy();
      await stack.stop();
    }
  },
};
