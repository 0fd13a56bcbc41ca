import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Context } from "aws-lambda";
import { startLocalStack } from "../../infra/local/stack.ts";
import { ledgerKeys } from "../../shared/adapters/dynamodb/items.ts";
import { asynchronousCapture } from "../../shared/domain/asynchronous-capture-service.ts";
import { recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { parseCaptureRequest } from "../../shared/protocol/capture.ts";
import { checkRequestHeader } from "../../shared/protocol/common.ts";
import { invalidField, unknownIdentifier } from "../../shared/protocol/errors.ts";
import { type ServiceDeps, serviceDeps } from "../../shared/runtime.ts";
import { newTransactionId } from "../../shared/runtime-ledger.ts";
import { summarise } from "./capacity.bench.ts";
import {
  type BenchModule,
  benchAsynchronousCapture,
  benchCapture,
  benchOutcome,
  fakeContext,
  type LoadResult,
  ms,
  num,
  type PooledFigures,
  pooled,
  ratio,
  runLoad,
  silentLogger,
  stats,
  withUnsentQueue,
} from "./common.ts";
import { capacityClient, countingClient, type MeteredCall } from "./dynamodb-meter.ts";

/**
 * The capture a team would otherwise write: Powertools idempotency (`makeIdempotent` with a
 * `DynamoDBPersistenceLayer`) around read token → read account → conditional debit → put the
 * transaction record, each its own DynamoDB request, with the Document client. It validates the
 * request with the same parsers as ours, reads strongly consistent, and guards the debit with a
 * condition. What it does not do (by design of the idiom, not to slow it down): the debit and the
 * record are two writes, not one transaction; there are no daily / monthly counters.
 */
function powertoolsCapture(options: {
  client: DynamoDBClient;
  tables: { ledger: string; transactions: string; idempotency: string };
  piaids: Record<string, string>;
}) {
  const { ledger, transactions, idempotency } = options.tables;
  // Amounts are int64 micros: read numbers as bigint so large balances stay exact.
  const doc = DynamoDBDocumentClient.from(options.client, {
    unmarshallOptions: { wrapNumbers: (value: string) => BigInt(value) },
  });
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: idempotency,
    awsSdkV3Client: options.client,
  });
  const config = new IdempotencyConfig({
    // Google's idempotency key is PIAID + requestId; a retry differs only in requestTimestamp.
    eventKeyJmesPath: "[paymentIntegratorAccountId, requestHeader.requestId]",
    // The same key with a different request must be refused, not replayed.
    payloadValidationJmesPath: "[amount, currencyCode, googlePaymentToken, transactionDescription]",
    throwOnNoIdempotencyKey: true,
  });

  const processCapture = async (body: Record<string, unknown>) => {
    const request = parseCaptureRequest(body);
    if (request.fop.kind !== "TOKEN") throw invalidField("fopDetails", "the baseline handles tokens only");
    const paymentIntegratorTransactionId = newTransactionId();
    const answer = (result: string) => ({ paymentIntegratorTransactionId, result });

    const token = await doc.send(
      new GetCommand({
        TableName: ledger,
        Key: ledgerKeys.token(request.fop.googlePaymentToken),
        ConsistentRead: true,
      }),
    );
    if (!token.Item) throw unknownIdentifier("googlePaymentToken");
    if (token.Item.status !== "ACTIVE") return answer("GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER");
    const accountId = token.Item.accountId as string;
    const account = await doc.send(
      new GetCommand({ TableName: ledger, Key: ledgerKeys.account(accountId), ConsistentRead: true }),
    );
    if (account.Item?.status !== "ACTIVE") return answer("ACCOUNT_CLOSED");
    const held = account.Item.currencies?.[request.currencyCode] as { balance: bigint } | undefined;
    if (!held) return answer("ACCOUNT_DOES_NOT_SUPPORT_CURRENCY");
    if (held.balance < request.amount) return answer("INSUFFICIENT_FUNDS");

    try {
      await doc.send(
        new UpdateCommand({
          TableName: ledger,
          Key: ledgerKeys.account(accountId),
          UpdateExpression: "SET currencies.#cur.balance = currencies.#cur.balance - :amount",
          ConditionExpression: "#status = :active AND currencies.#cur.balance >= :amount",
          ExpressionAttributeNames: { "#cur": request.currencyCode, "#status": "status" },
          ExpressionAttributeValues: { ":amount": request.amount, ":active": "ACTIVE" },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return answer("INSUFFICIENT_FUNDS");
      throw error;
    }
    await doc.send(
      new PutCommand({
        TableName: transactions,
        Item: {
          pk: paymentIntegratorTransactionId,
          paymentIntegratorAccountId: request.paymentIntegratorAccountId,
          requestId: request.requestHeader.requestId,
          accountId,
          amount: request.amount,
          currencyCode: request.currencyCode,
          transactionDescription: request.transactionDescription,
          result: "SUCCESS",
          createdAtMs: Date.now(),
        },
      }),
    );
    return answer("SUCCESS");
  };

  const captureIdempotently = makeIdempotent(processCapture, { persistenceStore, config });

  /** The handler's body: validate, then the idempotent part; the context bounds the in-progress lock. */
  return async (body: Record<string, unknown>, context: Context) => {
    checkRequestHeader(body, Date.now());
    const request = parseCaptureRequest(body);
    const contractCurrency = options.piaids[request.paymentIntegratorAccountId];
    if (contractCurrency === undefined) throw unknownIdentifier("paymentIntegratorAccountId");
    if (request.currencyCode !== contractCurrency)
      throw invalidField("currencyCode", "is not the currency of the paymentIntegratorAccountId");
    config.registerLambdaContext(context);
    const result = await captureIdempotently(body);
    return { responseHeader: { responseTimestamp: String(Date.now()) }, ...result };
  };
}

/** A table keyed by one string attribute, billed per request; one left by an earlier run is fine. */
async function createTable(admin: DynamoDBClient, TableName: string, keyName: string) {
  try {
    await admin.send(
      new CreateTableCommand({
        TableName,
        KeySchema: [{ AttributeName: keyName, KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: keyName, AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

/** The idempotency table as the Powertools docs require it: partition key `id` (S), TTL on `expiration`. */
async function createIdempotencyTable(admin: DynamoDBClient, TableName: string): Promise<string> {
  await createTable(admin, TableName, "id");
  try {
    await admin.send(
      new UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: "expiration", Enabled: true },
      }),
    );
    return "TTL on `expiration` enabled";
  } catch (error) {
    return `TTL not enabled (${(error as Error).name})`;
  }
}

/**
 * The asynchronous flow, sequential, timed per step (the cost model's durations): acknowledge, then an
 * outcome, alternately APPROVED (debit) and FAILED (no money). The queue accepts every message unsent.
 */
async function timedAsynchronous(deps: ServiceDeps, n: number) {
  const outcomeDeps = withUnsentQueue(deps.outcome);
  const ids: string[] = [];
  const oursAcknowledge = await sequential(n * 2, async () => {
    const body = benchAsynchronousCapture("customer@demobank");
    const { response } = await asynchronousCapture(deps.capture, body);
    if (response.result !== "ACKNOWLEDGED") throw new Error(`acknowledge answered ${response.result}`);
    ids.push((body.requestHeader as { requestId: string }).requestId);
  });
  const outcome = (approve: boolean) =>
    sequential(Math.floor(ids.length / 2), async (i) => {
      const captureRequestId = ids[approve ? 2 * i : 2 * i + 1]!;
      await recordCaptureOutcome(outcomeDeps, benchOutcome(captureRequestId, approve));
    });
  return {
    oursAcknowledge,
    oursOutcomeApproved: await outcome(true),
    oursOutcomeFailed: await outcome(false),
  };
}

/** `total` operations one at a time, bounded at 30 s: their latency figures (the cost model's durations). */
async function sequential(total: number, op: (i: number) => Promise<void>) {
  return stats((await runLoad({ total, concurrency: 1, maxMs: 30_000, op })).samples);
}

export const baselineBench: BenchModule = {
  id: "baseline",
  title: "4. Our capture vs the idiomatic Powertools-idempotency baseline (in-process, no HTTP, no envelope)",
  async run(ctx) {
    const stack = await startLocalStack({
      port: 0,
      messageCodec: "plain-json",
      ledgerSeed: ctx.benchLedger,
      prefix: ctx.prefix("baseline"),
      dynamodbEndpoint: ctx.dynamodbEndpoint,
      sqsEndpoint: ctx.sqsEndpoint,
      logger: silentLogger(),
    });
    const prefix = ctx.prefix("baseline");
    const tables = {
      ledger: stack.config.tables.ledger,
      transactions: `${prefix}pt-transactions`,
      idempotency: `${prefix}pt-idempotency`,
    };
    const ttl = await createIdempotencyTable(stack.dynamodb, tables.idempotency);
    await createTable(stack.dynamodb, tables.transactions, "pk");

    const oursDb = countingClient(ctx.dynamodbEndpoint);
    const theirsDb = countingClient(ctx.dynamodbEndpoint);
    const oursDeps = serviceDeps(stack.config, { dynamodb: oursDb.client, logger: silentLogger() });
    const ours = oursDeps.capture;
    const theirs = powertoolsCapture({ client: theirsDb.client, tables, piaids: stack.config.piaids });
    const tokens = ctx.benchTokens;
    const sides = {
      ours: async (body: Record<string, unknown>) => {
        const { response } = await capture(ours, body);
        if (response.result !== "SUCCESS") throw new Error(`ours answered ${response.result}`);
        return response;
      },
      theirs: async (body: Record<string, unknown>) => {
        const response = await theirs(body, fakeContext());
        if (response.result !== "SUCCESS") throw new Error(`baseline answered ${response.result}`);
        return response;
      },
    };
    type Side = keyof typeof sides;
    const load = (side: Side, total: number, concurrency: number) =>
      runLoad({
        total,
        concurrency,
        maxMs: 60_000,
        op: async (i) => {
          await sides[side](benchCapture(tokens[i % tokens.length]!));
        },
      });

    try {
      ctx.log("  warming up both");
      for (const side of ["ours", "theirs"] as const) {
        await load(side, tokens.length, 8);
        await load(side, ctx.quick ? 20 : 100, 8);
      }
      const rounds = 3;
      const total = ctx.quick ? 45 : 300;
      const figures: Record<string, Record<Side, PooledFigures>> = {};
      for (const concurrency of [1, 8]) {
        // Alternating rounds, so drift on the machine hits both sides alike.
        const runs: Record<Side, LoadResult[]> = { ours: [], theirs: [] };
        for (let round = 0; round < rounds; round++) {
          for (const side of ["ours", "theirs"] as const)
            runs[side].push(await load(side, total / rounds, concurrency));
        }
        const level = { ours: pooled(runs.ours), theirs: pooled(runs.theirs) };
        figures[`c${concurrency}`] = level;
        ctx.log(
          `  c=${concurrency}: ours p50 ${ms(level.ours.p50)} ms, baseline p50 ${ms(level.theirs.p50)} ms`,
        );
      }

      // Replays (both sides) and declines (ours), sequential: the cost model's durations for those cases.
      const timedN = ctx.quick ? 20 : 100;
      const replayBodies = async (side: Side) => {
        const bodies = Array.from({ length: timedN }, (_, i) => benchCapture(tokens[i % tokens.length]!));
        for (const body of bodies) await sides[side](body);
        return bodies;
      };
      const oursReplays = await replayBodies("ours");
      const theirsReplays = await replayBodies("theirs");
      const timedCases = {
        oursReplay: await sequential(timedN, async (i) => void (await sides.ours(oursReplays[i]!))),
        theirsReplay: await sequential(timedN, async (i) => void (await sides.theirs(theirsReplays[i]!))),
        oursDecline: await sequential(timedN, async () => {
          const { response } = await capture(ours, benchCapture("gpt-demo-success", "500000"));
          if (response.result !== "CHARGE_UNDER_LIMIT")
            throw new Error(`decline answered ${response.result}`);
        }),
        ...(await timedAsynchronous(oursDeps, timedN)),
      };

      // Round trips per capture: fresh and replay, counted on each side's own client.
      const roundTrips = async (side: Side, commands: string[]) => {
        const body = benchCapture(tokens[0]!);
        commands.length = 0;
        await sides[side](body);
        const fresh = [...commands];
        commands.length = 0;
        await sides[side](body);
        return { fresh, replay: [...commands] };
      };
      const trips = {
        ours: await roundTrips("ours", oursDb.commands),
        theirs: await roundTrips("theirs", theirsDb.commands),
      };

      // The baseline's capacity by the same rules as module 3 (untimed, its own metering client).
      const meteredTheirs = capacityClient(ctx.dynamodbEndpoint);
      const theirsMetered = powertoolsCapture({
        client: meteredTheirs.client,
        tables,
        piaids: stack.config.piaids,
      });
      const meteredRuns: Record<"fresh" | "replay", MeteredCall[][]> = { fresh: [], replay: [] };
      for (let i = 0; i < (ctx.quick ? 3 : 10); i++) {
        const body = benchCapture(tokens[i % tokens.length]!);
        for (const c of ["fresh", "replay"] as const) {
          meteredTheirs.meter.reset();
          await theirsMetered(body, fakeContext());
          meteredRuns[c].push([...meteredTheirs.meter.calls]);
        }
      }
      meteredTheirs.client.destroy();
      const capacity = {
        fresh: summarise(undefined, meteredRuns.fresh),
        replay: summarise(undefined, meteredRuns.replay),
      };

      const names = (cs: string[]) => cs.map((c) => c.replace(/Command$/, "")).join(" + ");
      const rows: (string | number)[][] = [];
      for (const [level, f] of Object.entries(figures)) {
        rows.push([
          level === "c1" ? "sequential (1)" : "8",
          `${f.ours.n} / ${f.theirs.n}`,
          `${num(f.ours.throughput)} / ${num(f.theirs.throughput)}`,
          ratio(f.ours.throughput / f.theirs.throughput),
          `${ms(f.ours.p50)} / ${ms(f.theirs.p50)}`,
          ratio(f.ours.p50 / f.theirs.p50),
          `${ms(f.ours.p99)} / ${ms(f.theirs.p99)}`,
          ratio(f.ours.p99 / f.theirs.p99),
          `${ms(f.ours.cpuMsPerOp)} / ${ms(f.theirs.cpuMsPerOp)}`,
          ratio(f.ours.cpuMsPerOp / f.theirs.cpuMsPerOp),
        ]);
      }
      return {
        tables: [
          {
            headers: [
              "concurrency",
              "n (ours / theirs)",
              "captures/s (ours / theirs)",
              "throughput ours/theirs",
              "p50 ms (ours / theirs)",
              "p50 ours/theirs",
              "p99 ms (ours / theirs)",
              "p99 ours/theirs",
              "CPU ms per capture, mean (ours / theirs)",
              "CPU ours/theirs",
            ],
            rows,
          },
          {
            title: "Other cases, sequential (used by the cost model)",
            headers: ["case", "n", "p50 ms", "p99 ms"],
            rows: [
              [
                "ours, replay",
                timedCases.oursReplay.n,
                ms(timedCases.oursReplay.p50),
                ms(timedCases.oursReplay.p99),
              ],
              [
                "baseline, replay",
                timedCases.theirsReplay.n,
                ms(timedCases.theirsReplay.p50),
                ms(timedCases.theirsReplay.p99),
              ],
              [
                "ours, decline (CHARGE_UNDER_LIMIT)",
                timedCases.oursDecline.n,
                ms(timedCases.oursDecline.p50),
                ms(timedCases.oursDecline.p99),
              ],
              ...(
                [
                  ["ours, asynchronousCapture acknowledged", "oursAcknowledge"],
                  ["ours, outcome APPROVED (debit, notification marked enqueued)", "oursOutcomeApproved"],
                  ["ours, outcome FAILED (no money moves)", "oursOutcomeFailed"],
                ] as const
              ).map(([name, k]) => [name, timedCases[k].n, ms(timedCases[k].p50), ms(timedCases[k].p99)]),
            ],
          },
          {
            title: "DynamoDB round trips per capture",
            headers: ["implementation", "fresh", "commands (fresh)", "replay", "commands (replay)"],
            rows: [
              [
                "ours: `capture(deps.capture, body)`",
                trips.ours.fresh.length,
                names(trips.ours.fresh),
                trips.ours.replay.length,
                names(trips.ours.replay),
              ],
              [
                "baseline: Powertools `makeIdempotent` + 4 single-item requests",
                trips.theirs.fresh.length,
                names(trips.theirs.fresh),
                trips.theirs.replay.length,
                names(trips.theirs.replay),
              ],
            ],
          },
          {
            title: "Baseline capacity per capture (same rules as module 3)",
            headers: ["case", "requests", "RRU (rules)", "WRU (rules)"],
            rows: (["fresh", "replay"] as const).map((c) => [
              c,
              num(capacity[c].requests, 2),
              num(capacity[c].rru, 2),
              num(capacity[c].wru, 2),
            ]),
          },
        ],
        notes: [
          "Both sides run in this process against the same DynamoDB Local and the same ledger items (bench accounts: huge balance, no limits), each with its own DynamoDBClient (same settings, a command counter only), after the same warm-up; each level runs both sides in 3 alternating rounds and pools the samples.",
          "CPU ms per capture: this process's user + system time over the level divided by the captures (the Node side only: SDK, marshalling, Powertools, our domain code; DynamoDB Local's JVM is not in it). On this VM it too rises when other processes are busy, though less than wall-clock latency; the ours/theirs ratio holds better than either figure.",
          "Ours: validation, one consistent BatchGetItem (idempotency record + account, whose item holds the day/month spend counters and the instrument's status), the decision, one TransactWriteItems of 2 items (record + the account's debit and counters).",
          `Baseline: Powertools \`makeIdempotent\` (DynamoDBPersistenceLayer on its own table, key \`id\`, ${ttl}; key = JMESPath [PIAID, requestId]; payload validation on amount, currency, token, description; \`config.registerLambdaContext\` with a Lambda-like context), inside it GetItem token and GetItem account (ConsistentRead), a conditional UpdateItem of the balance and a PutItem of the transaction record, with the Document client (numbers read as bigint). Same request validation as ours.`,
          "The baseline is not equivalent: its debit and its record are separate writes (a crash between them loses the record), and it keeps no daily/monthly counters. It is what the idiom gives, not a slowed-down straw man.",
        ],
        headlines: [
          `Ours vs the Powertools-idempotency baseline, in-process: ${trips.ours.fresh.length} vs ${trips.theirs.fresh.length} DynamoDB round trips per fresh capture; p50 ours/theirs ${ratio(figures.c1!.ours.p50 / figures.c1!.theirs.p50)} sequential, ${ratio(figures.c8!.ours.p50 / figures.c8!.theirs.p50)} at 8 in flight; throughput ours/theirs ${ratio(figures.c1!.ours.throughput / figures.c1!.theirs.throughput)} and ${ratio(figures.c8!.ours.throughput / figures.c8!.theirs.throughput)}; Node CPU per capture ours/theirs ${ratio(figures.c1!.ours.cpuMsPerOp / figures.c1!.theirs.cpuMsPerOp)} (${ms(figures.c1!.ours.cpuMsPerOp)} vs ${ms(figures.c1!.theirs.cpuMsPerOp)} ms).`,
        ],
        data: { figures, timedCases, roundTrips: trips, baselineCapacity: capacity },
      };
    } finally {
      oursDb.client.destroy();
      theirsDb.client.destroy();
      await stack.stop();
    }
  },
};
