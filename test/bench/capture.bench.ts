import { randomBytes } from "node:crypto";
import { BatchGetItemCommand, DynamoDBClient, TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { standInGoogleKeyring } from "../../infra/google/client.ts";
import { LOCAL_AWS } from "../../infra/local/emulators.ts";
import { DEFAULT_MAX_CONCURRENT } from "../../infra/local/gateway.ts";
import { type LocalStack, startLocalStack } from "../../infra/local/stack.ts";
import { recordToItem } from "../../shared/adapters/dynamodb/capture-store.ts";
import { key, ledgerKeys, N, S } from "../../shared/adapters/dynamodb/items.ts";
import type { RuntimeConfig } from "../../shared/config.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import type { Keyring } from "../../shared/security/keyring.ts";
import {
  type BenchModule,
  benchCapture,
  expectAll,
  type LoadResult,
  ms,
  num,
  PIAID,
  type PooledFigures,
  pooled,
  ratio,
  runLoad,
  silentLogger,
} from "./common.ts";

const LEVELS = [1, 8, 32];
/** Each level must finish well inside the protocol's ±60 s requestTimestamp window (requests are sealed up front). */
const LEVEL_MAX_MS = 40_000;

type Codec = RuntimeConfig["messageCodec"];

interface LevelFigures {
  codec: Codec;
  concurrency: number;
  capture: PooledFigures;
  floor: PooledFigures;
}

export const captureBench: BenchModule = {
  id: "capture",
  title: "2. Capture through the local HTTP gateway",
  async run(ctx) {
    const google = await standInGoogleKeyring(ctx.keysDir);
    const levels: LevelFigures[] = [];
    const codecs = ["plain-json", "openpgp"] as const;
    const stacks: Partial<Record<Codec, LocalStack>> = {};
    const floorClient = new DynamoDBClient({ ...LOCAL_AWS, endpoint: ctx.dynamodbEndpoint });
    try {
      // Both stacks up at once, so both codecs are measured in the same rounds (one gateway each).
      for (const codec of codecs) {
        stacks[codec] = await startLocalStack({
          port: 0,
          messageCodec: codec,
          keysDir: ctx.keysDir,
          ledgerSeed: ctx.benchLedger,
          prefix: ctx.prefix(`capture-${codec}`),
          dynamodbEndpoint: ctx.dynamodbEndpoint,
          sqsEndpoint: ctx.sqsEndpoint,
          logger: silentLogger(),
        });
      }
      const keyringOf = (codec: Codec) => (codec === "openpgp" ? google : undefined);
      const tokens = ctx.benchTokens;
      ctx.log("  warming up");
      for (const codec of codecs) {
        const stack = stacks[codec]!;
        // Every token once (so each process-level instrument → account binding is warm), then more.
        await level(stack, keyringOf(codec), tokens, tokens.length, 8);
        await level(stack, keyringOf(codec), tokens, ctx.quick ? 20 : 100, 8);
        await floorLevel(floorClient, stack, tokens, 50, 8);
      }
      const rounds = 3;
      const total = ctx.quick ? 45 : 300;
      for (const concurrency of LEVELS) {
        // Captures and floor, both codecs, alternate in rounds, so drift on the machine hits all alike.
        const runs: Record<Codec, { capture: LoadResult[]; floor: LoadResult[] }> = {
          "plain-json": { capture: [], floor: [] },
          openpgp: { capture: [], floor: [] },
        };
        for (let round = 0; round < rounds; round++) {
          for (const codec of codecs) {
            const stack = stacks[codec]!;
            runs[codec].capture.push(
              await level(stack, keyringOf(codec), tokens, total / rounds, concurrency),
            );
            runs[codec].floor.push(await floorLevel(floorClient, stack, tokens, total / rounds, concurrency));
          }
        }
        for (const codec of codecs) {
          const figures = {
            codec,
            concurrency,
            capture: pooled(runs[codec].capture),
            floor: pooled(runs[codec].floor),
          };
          ctx.log(
            `  ${codec} c=${concurrency}: capture p50 ${ms(figures.capture.p50)} ms, floor p50 ${ms(figures.floor.p50)} ms`,
          );
          levels.push(figures);
        }
      }
    } finally {
      floorClient.destroy();
      for (const stack of Object.values(stacks)) await stack.stop();
    }
    const sequential = (codec: Codec) =>
      levels.find((l) => l.codec === codec && l.concurrency === 1)?.capture.p50;
    const openpgpExtra = (sequential("openpgp") ?? Number.NaN) - (sequential("plain-json") ?? Number.NaN);
    const envelopeP50 =
      (ctx.results.envelope?.data as { serverOpenSeal?: { p50: number } } | undefined)?.serverOpenSeal?.p50 ??
      Number.NaN;
    return {
      tables: [
        {
          headers: [
            "codec",
            "concurrency",
            "n",
            "capture p50 ms",
            "capture p99 ms",
            "captures/s",
            "floor p50 ms",
            "floor p99 ms",
            "floor ops/s",
            "p50 / floor",
            "p99 / floor",
            "CPU ms per capture (this process, mean)",
          ],
          rows: [...levels]
            .sort((a, b) => codecs.indexOf(a.codec) - codecs.indexOf(b.codec))
            .map((l) => [
              l.codec,
              l.concurrency,
              `${l.capture.n}${l.capture.timedOut ? " (time bound)" : ""}`,
              ms(l.capture.p50),
              ms(l.capture.p99),
              num(l.capture.throughput),
              ms(l.floor.p50),
              ms(l.floor.p99),
              num(l.floor.throughput),
              ratio(l.capture.p50 / l.floor.p50),
              ratio(l.capture.p99 / l.floor.p99),
              ms(l.capture.cpuMsPerOp),
            ]),
        },
      ],
      notes: [
        "Capture latency is the HTTP round trip as the client (the stand-in Google, in this same process) sees it: request bodies are built and, for OpenPGP, sealed before the clock starts; answers are opened and verified after it stops. So the OpenPGP figures hold the server's open + seal, not the client's.",
        `Every capture is a fresh SUCCESS of 1 INR, spread round-robin over ${ctx.benchTokens.length} tokens on ${ctx.benchTokens.length} accounts (huge balance, no limits); after a warm-up, each token has been seen by the process (warm path: 1 BatchGetItem + 1 TransactWriteItems).`,
        `The local gateway runs at most ${DEFAULT_MAX_CONCURRENT} invocations of a function at once and queues the rest (infra/local/gateway.ts), so at concurrency 32 the capture latency includes queueing at the gateway; the floor has no such bound.`,
        "Floor: the least DynamoDB work a capture can do, sent straight from this process with the SDK: one BatchGetItem (ConsistentRead) of the same two keys a warm capture reads (record, and the account, which holds the instrument's status), then one TransactWriteItems of a Put (a SUCCESS capture record as the capture store writes it, so with its `settlement` index entry, conditional on a new key) and an Update (the account's balance, conditional on funds). Measured in the same rounds as the captures (capture run, floor run, for each codec, three times per level) at the same concurrency, against the same DynamoDB Local.",
        "Client, server and gateway share this process and the machine's 2 cores with DynamoDB Local (Java); throughput is that of the whole arrangement, not of one Lambda. CPU ms per capture is this process's user + system time over the captures (client fetch, gateway, handler; not DynamoDB Local's JVM); on this VM it too rises when other processes are busy, though less than wall-clock latency.",
      ],
      headlines: [
        ...codecs.map((codec) => {
          const at = (c: number) => levels.find((l) => l.codec === codec && l.concurrency === c);
          const one = at(1);
          const eight = at(8);
          return `Capture over HTTP, ${codec}: sequential p50 ${ms(one?.capture.p50 ?? Number.NaN)} ms (${ratio((one?.capture.p50 ?? Number.NaN) / (one?.floor.p50 ?? Number.NaN))} the DynamoDB floor); at 8 in flight ${num(eight?.capture.throughput ?? Number.NaN)} captures/s (floor ${num(eight?.floor.throughput ?? Number.NaN)} ops/s).`;
        }),
        `OpenPGP over plain JSON, sequential, p50: +${ms(openpgpExtra)} ms per capture (the envelope module's server-side open + seal: ${ms(envelopeP50)} ms).`,
      ],
      data: { levels },
    };
  },
};

/** `total` fresh captures at `concurrency`; answers checked (SUCCESS, sealed when OpenPGP) after timing. */
async function level(
  stack: LocalStack,
  keyring: Keyring | undefined,
  tokens: string[],
  total: number,
  concurrency: number,
): Promise<LoadResult> {
  const bodies = Array.from({ length: total }, (_, i) =>
    JSON.stringify(benchCapture(tokens[i % tokens.length]!)),
  );
  const wires = keyring ? await Promise.all(bodies.map((b) => seal(b, keyring))) : bodies;
  const contentType = keyring ? "application/octet-stream; charset=utf-8" : "application/json";
  const answers: { status: number; contentType: string; text: string }[] = new Array(total);
  const url = `${stack.url}/v1/capture`;
  const result = await runLoad({
    total,
    concurrency,
    maxMs: LEVEL_MAX_MS,
    op: async (i) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": contentType },
        body: wires[i],
      });
      answers[i] = {
        status: res.status,
        contentType: res.headers.get("content-type") ?? "",
        text: await res.text(),
      };
    },
  });
  const done = answers.filter(Boolean);
  const opened = await Promise.all(
    done.map(async (a) => ({
      ...a,
      json:
        keyring && a.contentType.startsWith("application/octet-stream")
          ? await open(a.text, keyring)
          : a.text,
    })),
  );
  expectAll(
    opened,
    (a) => a.status === 200 && JSON.parse(a.json).result === "SUCCESS",
    (a) => `${a.status} ${a.json.slice(0, 200)}`,
  );
  return result;
}

/** The floor: one consistent BatchGetItem of a warm capture's keys + one TransactWriteItems (Put + Update). */
function floorLevel(
  db: DynamoDBClient,
  stack: LocalStack,
  tokens: string[],
  total: number,
  concurrency: number,
): Promise<LoadResult> {
  return runLoad({
    total,
    concurrency,
    maxMs: LEVEL_MAX_MS,
    op: dynamoDbFloor(db, stack.config.tables, tokens),
  });
}

/**
 * The least DynamoDB work a fresh capture can do, as one operation for `i`: one consistent BatchGetItem of
 * the 2 keys a warm capture reads (record, and the account, which holds the instrument's status), then one TransactWriteItems of 2 items
 * (a SUCCESS capture record as the store writes it, `settlement` index entry included, conditional on a new
 * key, and the account's balance, conditional on funds).
 */
export function dynamoDbFloor(
  db: DynamoDBClient,
  tables: { ledger: string; captures: string },
  tokens: string[],
): (i: number) => Promise<void> {
  const { ledger, captures } = tables;
  return async (i) => {
    const index = i % tokens.length;
    const accountId = `acct-bench-${index}`;
    const requestId = `floor-${randomBytes(8).toString("hex")}`;
    const recordKey = idempotencyKey(PIAID, requestId);
    await db.send(
      new BatchGetItemCommand({
        RequestItems: {
          [ledger]: {
            Keys: [ledgerKeys.account(accountId)].map(key),
            ConsistentRead: true,
          },
          [captures]: { Keys: [{ pk: S(recordKey) }], ConsistentRead: true },
        },
      }),
    );
    const now = Date.now();
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: captures,
              Item: captureLikeItem(recordKey, requestId, accountId, now),
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Update: {
              TableName: ledger,
              Key: key(ledgerKeys.account(accountId)),
              UpdateExpression: "SET currencies.#cur.balance = currencies.#cur.balance - :amount",
              ConditionExpression: "currencies.#cur.balance >= :amount",
              ExpressionAttributeNames: { "#cur": "INR" },
              ExpressionAttributeValues: { ":amount": N(1_000_000n) },
            },
          },
        ],
      }),
    );
  };
}

/**
 * A SUCCESS capture record as the capture store writes it (its own `recordToItem`: the same attributes,
 * the `settlement` index entry included), for the floor's Put. Random identifiers, no domain work.
 */
function captureLikeItem(recordKey: string, requestId: string, accountId: string, now: number) {
  const transactionId = `${now.toString(36)}${randomBytes(9).toString("base64url")}`;
  return recordToItem({
    key: recordKey,
    paymentIntegratorAccountId: PIAID,
    requestId,
    method: "capture",
    fingerprint: randomBytes(32).toString("base64url"),
    paymentIntegratorTransactionId: transactionId,
    response: { paymentIntegratorTransactionId: transactionId, result: "SUCCESS" },
    state: "DECIDED",
    amount: 1_000_000n,
    currencyCode: "INR",
    transactionDescription: "Google - Music",
    accountId,
    instrumentKind: "TOKEN",
    instrumentRef: `TOKEN#${randomBytes(32).toString("base64url")}`,
    createdAtMs: now,
  });
}
