import { functions } from "../../infra/resources.ts";
import type { CaseFigures } from "./capacity.bench.ts";
import { type BenchModule, ms, num, type Stats, usd } from "./common.ts";

/** us-east-1 list prices (on-demand), as stated in the report. */
const PRICES = {
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequestsPerMillion: 0.2,
  /** The deployed edge (infra/cdk, DEPLOY.md "Edge"): a regional REST API behind WAF. */
  restApiRequestsPerMillion: 3.5,
  wafRequestsPerMillion: 0.6,
  dynamoWruPerMillion: 0.625,
  dynamoRruPerMillion: 0.125,
};

/** 1,769 MB of Lambda memory is one vCPU's worth of CPU (AWS Lambda documentation). */
const MB_PER_VCPU = 1769;

interface CostLine {
  name: string;
  durationMs: number;
  rru: number;
  wru: number;
}

/** Dollars per million invocations of one kind. */
function perMillion(line: CostLine, memoryMb: number) {
  const billedMs = Math.ceil(line.durationMs); // Lambda bills duration in 1 ms increments
  const lambdaCompute = 1e6 * (memoryMb / 1024) * (billedMs / 1000) * PRICES.lambdaArmGbSecond;
  const lambdaRequests = PRICES.lambdaRequestsPerMillion;
  const apiGateway = PRICES.restApiRequestsPerMillion + PRICES.wafRequestsPerMillion;
  const dynamo = line.rru * PRICES.dynamoRruPerMillion + line.wru * PRICES.dynamoWruPerMillion;
  return {
    billedMs,
    lambdaCompute,
    lambdaRequests,
    apiGateway,
    dynamo,
    total: lambdaCompute + lambdaRequests + apiGateway + dynamo,
  };
}

export const costBench: BenchModule = {
  id: "cost",
  title: "7. Estimated AWS cost per million captures",
  async run(ctx) {
    const envelope = ctx.results.envelope?.data as Record<string, Stats> | undefined;
    const capacity = ctx.results.capacity?.data as Record<string, CaseFigures> | undefined;
    const baseline = ctx.results.baseline?.data as
      | {
          figures: Record<string, Record<"ours" | "theirs", Stats>>;
          baselineCapacity: Record<"fresh" | "replay", { rru: number; wru: number }>;
          timedCases: Record<string, Stats>;
        }
      | undefined;
    const bundles = ctx.results.bundles?.data as
      | { memory?: Record<string, { maxRssKb: number }> }
      | undefined;
    if (!envelope || !capacity || !baseline) {
      return {
        tables: [],
        notes: ["Not computed: it needs the envelope, capacity and baseline modules of the same run."],
        data: {},
      };
    }
    const memoryMb = functions.capture.memoryMb;
    const envelopeMs = envelope.serverOpenSeal!.p50;
    const oursFresh = baseline.figures.c1!.ours.p50;
    const theirsFresh = baseline.figures.c1!.theirs.p50;
    const timed = baseline.timedCases;
    const lines: CostLine[] = [
      {
        name: "ours, fresh capture (SUCCESS)",
        durationMs: oursFresh + envelopeMs,
        rru: capacity.fresh!.rru,
        wru: capacity.fresh!.wru,
      },
      {
        name: "ours, replay",
        durationMs: timed.oursReplay!.p50 + envelopeMs,
        rru: capacity.replay!.rru,
        wru: capacity.replay!.wru,
      },
      {
        name: "ours, decline",
        durationMs: timed.oursDecline!.p50 + envelopeMs,
        rru: capacity.decline!.rru,
        wru: capacity.decline!.wru,
      },
      {
        name: "ours, asynchronousCapture acknowledged (PENDING)",
        durationMs: timed.oursAcknowledge!.p50 + envelopeMs,
        rru: capacity.acknowledge!.rru,
        wru: capacity.acknowledge!.wru,
      },
      {
        // The internal route: JSON from the integrator's systems, no envelope.
        name: "ours, outcome APPROVED (debit)",
        durationMs: timed.oursOutcomeApproved!.p50,
        rru: capacity.approved!.rru,
        wru: capacity.approved!.wru,
      },
      {
        name: "ours, outcome FAILED (no money moves)",
        durationMs: timed.oursOutcomeFailed!.p50,
        rru: capacity.failed!.rru,
        wru: capacity.failed!.wru,
      },
      {
        name: "baseline (Powertools), fresh capture",
        durationMs: theirsFresh + envelopeMs,
        rru: baseline.baselineCapacity.fresh.rru,
        wru: baseline.baselineCapacity.fresh.wru,
      },
      {
        // What the layout alone costs: the same capture without the `settlement` index entry issue 16 added.
        name: "ours, fresh capture, without its settlement index entry (the ledger layout alone; −1 WRU, computed)",
        durationMs: oursFresh + envelopeMs,
        rru: capacity.fresh!.rru,
        wru: capacity.fresh!.wru - capacity.fresh!.indexWru,
      },
      {
        // Computed, not measured: reconciling the baseline's statements without a scan needs the same entry.
        name: "baseline (Powertools), fresh capture, with a settlement index entry (+1 WRU, computed)",
        durationMs: theirsFresh + envelopeMs,
        rru: baseline.baselineCapacity.fresh.rru,
        wru: baseline.baselineCapacity.fresh.wru + capacity.fresh!.indexWru,
      },
      {
        name: "baseline (Powertools), replay",
        durationMs: timed.theirsReplay!.p50 + envelopeMs,
        rru: baseline.baselineCapacity.replay.rru,
        wru: baseline.baselineCapacity.replay.wru,
      },
    ];
    const costs = lines.map((line) => perMillion(line, memoryMb));
    const byName = (prefix: string) => costs[lines.findIndex((l) => l.name.startsWith(prefix))]!;
    // An approved asynchronous capture is two invocations: Google's acknowledgement and the integrator's outcome.
    const layoutOnly = byName("ours, fresh capture, without");
    const baselineIndexed = byName("baseline (Powertools), fresh capture, with");
    const acknowledged = byName("ours, asynchronousCapture");
    const approved = byName("ours, outcome APPROVED");
    const asyncApproved = {
      lambdaCompute: acknowledged.lambdaCompute + approved.lambdaCompute,
      lambdaRequests: acknowledged.lambdaRequests + approved.lambdaRequests,
      apiGateway: acknowledged.apiGateway + approved.apiGateway,
      dynamo: acknowledged.dynamo + approved.dynamo,
      total: acknowledged.total + approved.total,
    };
    const rows = lines.map((line, i) => {
      const c = costs[i]!;
      return [
        line.name,
        ms(line.durationMs),
        c.billedMs,
        usd(c.lambdaCompute),
        usd(c.lambdaRequests),
        usd(c.apiGateway),
        `${num(line.rru, 2)} / ${num(line.wru, 2)}`,
        usd(c.dynamo),
        usd(c.total),
      ];
    });
    rows.splice(6, 0, [
      "ours, asynchronous capture approved, in all (acknowledged + outcome APPROVED; the notification's delivery not included)",
      "",
      "",
      usd(asyncApproved.lambdaCompute),
      usd(asyncApproved.lambdaRequests),
      usd(asyncApproved.apiGateway),
      `${num(capacity.acknowledge!.rru + capacity.approved!.rru, 2)} / ${num(capacity.acknowledge!.wru + capacity.approved!.wru, 2)}`,
      usd(asyncApproved.dynamo),
      usd(asyncApproved.total),
    ]);
    // Sensitivity: at 512 MB a function gets 512/1769 of a vCPU; if the CPU-bound envelope slowed by that factor.
    const cpuFactor = MB_PER_VCPU / memoryMb;
    const slowEnvelope = perMillion(
      { ...lines[0]!, durationMs: oursFresh + envelopeMs * cpuFactor },
      memoryMb,
    );
    const rss = bundles?.memory?.openpgp?.maxRssKb;
    return {
      tables: [
        {
          headers: [
            "per million",
            "est. duration ms",
            "billed ms",
            "Lambda compute",
            "Lambda requests",
            "REST API + WAF",
            "RRU / WRU per capture",
            "DynamoDB",
            "total",
          ],
          rows,
        },
      ],
      notes: [
        `Prices (us-east-1 list, on-demand): Lambda arm64 $${PRICES.lambdaArmGbSecond} per GB-second and $${PRICES.lambdaRequestsPerMillion.toFixed(2)} per million requests; API Gateway REST API $${PRICES.restApiRequestsPerMillion.toFixed(2)} per million requests and WAF $${PRICES.wafRequestsPerMillion.toFixed(2)} per million requests (the deployed edge; the baseline is priced behind the same edge, which any bank's deployment needs; WAF's monthly web ACL and rule fees are not per request and left out); DynamoDB on-demand $${PRICES.dynamoWruPerMillion} per million write request units and $${PRICES.dynamoRruPerMillion} per million read request units (transactional writes 2 WRU per KB, strongly consistent reads 1 RRU per 4 KB). No free tier, no data transfer, no CloudWatch Logs (one JSON line per request), no Secrets Manager (keyring re-read every 300 s per warm instance).`,
        `Lambda: ${memoryMb} MB arm64 (infra/resources.ts)${rss ? `; measured peak RSS of a warm process over the loop: ${num(rss / 1024, 1)} MiB` : ""}. Duration estimate = in-process capture p50 measured in module 4 (sequential; replay and decline timed the same way) + server-side envelope p50 from module 1 (${ms(envelopeMs)} ms), rounded up to the billed 1 ms. That is this machine's figure on DynamoDB Local, not a Lambda measurement.`,
        `Sensitivity: at ${memoryMb} MB a function has about ${memoryMb}/${MB_PER_VCPU} of a vCPU; if the CPU-bound envelope ran ${num(cpuFactor, 2)}× slower there (an assumption, not measured), a fresh capture would bill ${slowEnvelope.billedMs} ms and cost ${usd(slowEnvelope.total)} per million in total (Lambda compute ${usd(slowEnvelope.lambdaCompute)}).`,
        "Two rows are derived, not measured: ours without the `settlement` index entry (module 3 reports the index's part of the WRU; that entry is what lets a statement's period be reconciled with a Query per day instead of a scan, issue 16), which is the ledger layout's own cost; and the baseline with the same entry added (+1 WRU), which is what reconciling its statements without a scan would cost it too.",
        "Request units per capture come from module 3 (ours) and module 4 (baseline), computed with DynamoDB's published rules from the measured item sizes; cold first captures of a token (one more read) are rare and left out. The asynchronous rows are per invocation (the outcome route is internal: JSON, no envelope, behind its own IAM-only REST API and WAF); an approved asynchronous capture is the two together, and its notification adds the notifier's invocation and SQS, not costed here.",
      ],
      headlines: [
        `Estimated cost per million fresh captures: ours ${usd(byName("ours, fresh").total)} (DynamoDB ${usd(byName("ours, fresh").dynamo)} of it), the Powertools baseline ${usd(byName("baseline (Powertools), fresh").total)} (DynamoDB ${usd(byName("baseline (Powertools), fresh").dynamo)}): ours/baseline ${num(byName("ours, fresh").total / byName("baseline (Powertools), fresh").total, 3)}× in all, ${num(byName("ours, fresh").dynamo / byName("baseline (Powertools), fresh").dynamo, 3)}× DynamoDB; without the settlement index entry (the layout alone) ${usd(layoutOnly.total)}, ${num(layoutOnly.total / byName("baseline (Powertools), fresh").total, 3)}× the baseline; the baseline given the same entry ${usd(baselineIndexed.total)}, ours ${num(byName("ours, fresh").total / baselineIndexed.total, 3)}× that; a decline ${usd(byName("ours, decline").total)}, a replay ${usd(byName("ours, replay").total)}, an approved asynchronous capture ${usd(asyncApproved.total)} (two invocations).`,
      ],
      data: {
        prices: PRICES,
        memoryMb,
        lines: lines.map((l, i) => ({ ...l, perMillion: costs[i] })),
        asynchronousApproved: asyncApproved,
        sensitivity: { cpuFactor, freshWithSlowEnvelope: slowEnvelope },
      },
    };
  },
};
