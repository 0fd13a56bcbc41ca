import { callIntegrator } from "../../infra/google/client.ts";
import { startLocalStack } from "../../infra/local/stack.ts";
import { asynchronousCapture } from "../../shared/domain/asynchronous-capture-service.ts";
import { recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { refund } from "../../shared/domain/refund-service.ts";
import { serviceDeps } from "../../shared/runtime.ts";
import {
  type BenchModule,
  benchAsynchronousCapture,
  benchCapture,
  benchOutcome,
  benchRefund,
  num,
  silentLogger,
  withUnsentQueue,
} from "./common.ts";
import { capacityClient, type MeteredCall } from "./dynamodb-meter.ts";

/** The demo token: its account has limits, so a 0.5 INR capture is declined (CHARGE_UNDER_LIMIT). */
const TOKEN = "gpt-demo-success";
/** The demo VPA, on the same account: asynchronous captures of 1 INR are acknowledged, then approved. */
const VPA = "customer@demobank";
const CASES = {
  cold: { amount: "1000000", expect: "SUCCESS" },
  fresh: { amount: "1000000", expect: "SUCCESS" },
  replay: { amount: "1000000", expect: "SUCCESS" },
  decline: { amount: "500000", expect: "CHARGE_UNDER_LIMIT" },
} as const;
type Case = keyof typeof CASES;
/** The asynchronous flow, in-process only (the outcome route is not Google's: no gateway count here). */
const ASYNC_CASES = ["acknowledge", "approved", "failed", "refund"] as const;
type AsyncCase = (typeof ASYNC_CASES)[number];

export interface CaseFigures {
  /** Commands the handler sent, through the gateway (stack.dynamodbCommands), per capture. */
  gatewayCommands: string[];
  /** Per capture, averaged over the repetitions, in-process with the capacity-metering client. */
  requests: number;
  rru: number;
  wru: number;
  /** The part of `wru` written to the sweep and settlement indexes. */
  indexWru: number;
  /** CapacityUnits DynamoDB Local returned (it does not bill missing keys nor ConditionChecks). */
  reportedByLocal: number;
  largestItemBytes: number;
  repetitions: number;
}

export const capacityBench: BenchModule = {
  id: "capacity",
  title: "3. DynamoDB requests and consumed capacity per capture",
  async run(ctx) {
    const stack = await startLocalStack({
      port: 0,
      messageCodec: "plain-json",
      ledgerSeed: ctx.benchLedger,
      prefix: ctx.prefix("capacity"),
      dynamodbEndpoint: ctx.dynamodbEndpoint,
      sqsEndpoint: ctx.sqsEndpoint,
      logger: silentLogger(),
    });
    const metered = capacityClient(ctx.dynamodbEndpoint);
    try {
      const repetitions = ctx.quick ? 3 : 10;

      // Request counts through the real handler, as the capture-budget test counts them.
      const gateway: Record<Case, string[][]> = { cold: [], fresh: [], replay: [], decline: [] };
      const viaGateway = async (c: Case, body: Record<string, unknown>) => {
        stack.dynamodbCommands.length = 0;
        const reply = await callIntegrator(stack.url, "/v1/capture", body, { keyring: undefined });
        if (reply.status !== 200 || reply.body.result !== CASES[c].expect)
          throw new Error(`${c} via the gateway answered ${reply.status} ${reply.text.slice(0, 200)}`);
        gateway[c].push([...stack.dynamodbCommands]);
      };
      await viaGateway("cold", benchCapture(TOKEN, CASES.cold.amount));
      for (let i = 0; i < repetitions; i++) {
        const fresh = benchCapture(TOKEN, CASES.fresh.amount);
        await viaGateway("fresh", fresh);
        await viaGateway("replay", fresh);
        await viaGateway("decline", benchCapture(TOKEN, CASES.decline.amount));
      }

      // Capacity in-process: the same capture function, deps built on the metering client, same tables.
      const deps = serviceDeps(stack.config, { dynamodb: metered.client, logger: silentLogger() });
      const calls: Record<Case, MeteredCall[][]> = { cold: [], fresh: [], replay: [], decline: [] };
      const inProcess = async (c: Case, body: Record<string, unknown>) => {
        metered.meter.reset();
        const outcome = await capture(deps.capture, body);
        if (outcome.response.result !== CASES[c].expect)
          throw new Error(`${c} in-process answered ${outcome.response.result}`);
        calls[c].push([...metered.meter.calls]);
      };
      await inProcess("cold", benchCapture(TOKEN, CASES.cold.amount));
      for (let i = 0; i < repetitions; i++) {
        const fresh = benchCapture(TOKEN, CASES.fresh.amount);
        await inProcess("fresh", fresh);
        await inProcess("replay", fresh);
        await inProcess("decline", benchCapture(TOKEN, CASES.decline.amount));
      }

      // The asynchronous flow: acknowledge (PENDING), then an outcome that debits or one that moves no
      // money. The queue is a stand-in that accepts every message (SQS is not DynamoDB's bill).
      const outcomeDeps = withUnsentQueue(deps.outcome);
      const asyncCalls: Record<AsyncCase, MeteredCall[][]> = {
        acknowledge: [],
        approved: [],
        failed: [],
        refund: [],
      };
      const metering = async (c: AsyncCase, work: () => Promise<void>) => {
        metered.meter.reset();
        await work();
        asyncCalls[c].push([...metered.meter.calls]);
      };
      for (let i = 0; i < repetitions * 2; i++) {
        const body = benchAsynchronousCapture(VPA);
        await metering("acknowledge", async () => {
          const { response } = await asynchronousCapture(deps.capture, body);
          if (response.result !== "ACKNOWLEDGED") throw new Error(`acknowledge answered ${response.result}`);
        });
        const captureRequestId = (body.requestHeader as { requestId: string }).requestId;
        const approve = i % 2 === 0;
        await metering(approve ? "approved" : "failed", async () => {
          const { record } = await recordCaptureOutcome(outcomeDeps, benchOutcome(captureRequestId, approve));
          const code = record.notification?.captureResult.captureResultCode;
          if (code !== (approve ? "SUCCESS" : "USER_EXITED_PAYMENT_FLOW"))
            throw new Error(`outcome recorded ${code}`);
        });
      }

      // A partial refund of a fresh capture: the refund's own read, its transaction, its notification noted enqueued.
      for (let i = 0; i < repetitions; i++) {
        const captured = benchCapture(TOKEN, CASES.fresh.amount);
        const { response } = await capture(deps.capture, captured);
        if (response.result !== "SUCCESS")
          throw new Error(`capture for the refund answered ${response.result}`);
        const captureRequestId = (captured.requestHeader as { requestId: string }).requestId;
        await metering("refund", async () => {
          const out = await refund(withUnsentQueue(deps.refund), benchRefund(captureRequestId, "500000"));
          if (out.response.result !== "SUCCESS") throw new Error(`refund answered ${out.response.result}`);
        });
      }

      const figures = Object.fromEntries([
        ...(Object.keys(CASES) as Case[]).map((c) => [c, summarise(gateway[c], calls[c])]),
        ...ASYNC_CASES.map((c) => [c, summarise(undefined, asyncCalls[c])]),
      ]) as Record<Case | AsyncCase, CaseFigures>;
      const commandsOf = (runs: string[][]) => {
        const distinct = [...new Set(runs.map((r) => r.map((n) => n.replace(/Command$/, "")).join(" + ")))];
        return distinct.join(" / ") || "(none)";
      };
      const label: Record<Case | AsyncCase, string> = {
        cold: "fresh, first capture of the token in the process (cold binding)",
        fresh: "fresh (warm)",
        replay: "replay (same requestId, same body)",
        decline: "decline (CHARGE_UNDER_LIMIT)",
        acknowledge: "asynchronousCapture acknowledged (PENDING record)",
        approved: "outcome APPROVED (debit) + notification marked enqueued",
        failed: "outcome FAILED (no money moves) + notification marked enqueued",
        refund: "refund (partial, SUCCESS) + its refundResultNotification marked enqueued",
      };
      const asyncCommands = (c: AsyncCase) =>
        commandsOf(asyncCalls[c].map((calls) => calls.map((x) => x.command)));
      return {
        tables: [
          {
            headers: [
              "case",
              "n",
              "DynamoDB requests",
              "commands (via the gateway)",
              "RRU (rules)",
              "WRU (rules)",
              "… of which index entries",
              "capacity units reported by DynamoDB Local",
              "largest item, bytes",
            ],
            rows: [...(Object.keys(CASES) as Case[]), ...ASYNC_CASES].map((c) => [
              label[c],
              figures[c].repetitions,
              num(figures[c].requests, 2),
              c in gateway ? commandsOf(gateway[c as Case]) : `${asyncCommands(c as AsyncCase)} (in-process)`,
              num(figures[c].rru, 2),
              num(figures[c].wru, 2),
              num(figures[c].indexWru, 2),
              num(figures[c].reportedByLocal, 2),
              figures[c].largestItemBytes,
            ]),
          },
        ],
        notes: [
          "Requests: counted twice, through the gateway from `stack.dynamodbCommands` (the real handler) and in-process; the two agree or this module fails.",
          'Capacity: in-process, `capture(deps.capture, body)` (and `asynchronousCapture`, `recordCaptureOutcome`) with deps from `serviceDeps(config, { dynamodb })` on a client whose middleware sets `ReturnConsumedCapacity: "TOTAL"` and sums `ConsumedCapacity`, against the same tables. DynamoDB Local does return ConsumedCapacity, but it bills 0 for a BatchGetItem key that finds no item, 0 for a ConditionCheck, and nothing for index writes, where DynamoDB bills them; so the RRU/WRU columns are computed from the sizes of the items involved with DynamoDB\'s published rules: strongly consistent read 1 RRU per 4 KB per key, a key that finds no item 1 RRU; a standard write (PutItem, UpdateItem) 1 WRU per 1 KB of the larger of the item before and after, a transactional write 2 WRU per 1 KB per item; a write to a sparse index (`sweep`, KEYS_ONLY; `settlement`, a few small attributes projected, the index the reconciliation of a statement queries by day) 1 WRU when the item enters or leaves it, 2 when its index key moves (delete + put), none when it stays; and one rule the AWS developer guide does not spell out: a ConditionCheck billed as a transactional write of its item (2 WRU; the layout no longer uses one on the capture path). A conditional write whose condition fails is billed as if it wrote. The reported column is shown for comparison only.',
          "Fresh writes the capture record and the account item (balance and the day and month spend counters on it) in one TransactWriteItems of 2 items; the read is the record and the account (whose item holds a copy of the instrument's status, so the instrument's own item is read only the first time a process meets it), and the instrument is not checked in the write (an instrument change rewrites that copy and bumps the account's configVersion, which the debit conditions on). A decline is the record alone in one conditional PutItem; a replay only reads. An asynchronous capture is acknowledged with a conditional PutItem of the PENDING record (which enters the sweep index); an APPROVED outcome reads the record (GetItem) and the account (a BatchGetItem of its one key), then writes the record and the debit in one 2-item transaction; a FAILED outcome is one conditional UpdateItem; both then mark the notification enqueued (UpdateItem, the record leaves the index). A refund reads its own key and the capture (BatchGetItem), writes its record, the capture's refunded total and the credit in one 3-item transaction, then marks its refundResultNotification enqueued (UpdateItem). A record that moved money (a SUCCESS capture, an approved outcome, a SUCCESS refund) also enters the `settlement` index. The notifier's own reads and writes per delivery are not in these rows.",
        ],
        headlines: [
          `DynamoDB per capture (published rules): fresh ${figures.fresh.requests} requests, ${num(figures.fresh.rru, 0)} RRU + ${num(figures.fresh.wru, 0)} WRU; replay ${figures.replay.requests} request, ${num(figures.replay.rru, 0)} RRU; decline ${figures.decline.requests} requests, ${num(figures.decline.rru, 0)} RRU + ${num(figures.decline.wru, 0)} WRU; asynchronous, approved: acknowledge ${num(figures.acknowledge.rru, 0)} RRU + ${num(figures.acknowledge.wru, 0)} WRU, then the outcome ${num(figures.approved.rru, 0)} RRU + ${num(figures.approved.wru, 0)} WRU (${num(figures.failed.rru, 0)} RRU + ${num(figures.failed.wru, 0)} WRU when it moves no money); a refund ${figures.refund.requests} requests, ${num(figures.refund.rru, 0)} RRU + ${num(figures.refund.wru, 0)} WRU.`,
        ],
        data: figures,
      };
    } finally {
      metered.client.destroy();
      await stack.stop();
    }
  },
};

/**
 * Per-operation figures of repeated runs, each run the calls the metering client saw; with the same
 * operations' gateway command lists, also checks that both counted the same requests.
 */
export function summarise(gatewayRuns: string[][] | undefined, inProcessRuns: MeteredCall[][]): CaseFigures {
  const n = inProcessRuns.length;
  const mean = (f: (calls: MeteredCall[]) => number) =>
    inProcessRuns.reduce((s, calls) => s + f(calls), 0) / n;
  const requests = mean((calls) => calls.length);
  if (gatewayRuns) {
    const gatewayCount = gatewayRuns.reduce((s, r) => s + r.length, 0) / gatewayRuns.length;
    if (gatewayCount !== requests)
      throw new Error(`requests per capture differ: ${gatewayCount} via the gateway, ${requests} in-process`);
  }
  return {
    gatewayCommands: gatewayRuns?.[0] ?? [],
    requests,
    rru: mean((calls) => calls.reduce((s, c) => s + c.rru, 0)),
    wru: mean((calls) => calls.reduce((s, c) => s + c.wru, 0)),
    indexWru: mean((calls) => calls.reduce((s, c) => s + c.indexWru, 0)),
    reportedByLocal: mean((calls) => calls.reduce((s, c) => s + (c.reported ?? 0), 0)),
    largestItemBytes: Math.max(...inProcessRuns.flatMap((calls) => calls.map((c) => c.largestItem))),
    repetitions: n,
  };
}
