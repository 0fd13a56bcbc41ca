/**
 * `statements list|show|reconcile|accept|export`: the remittance statements of the target, with the
 * reconciler built for it (the local stack's keys folder and stand-in Google, or a deployed
 * environment's keyring secrets and Google URL). The work is in statements.ts.
 */

import { userInfo } from "node:os";
import { RUNTIME_DEFAULTS, type RuntimeConfig } from "../../shared/config.ts";
import type { StatementState } from "../../shared/domain/statement-service.ts";
import { Logger } from "../../shared/logging.ts";
import { serviceDeps } from "../../shared/runtime.ts";
import { ENVIRONMENTS, type EnvironmentName } from "../cdk/environments.ts";
import { type Command, type Context, EXIT, usage, type Values } from "./command.ts";
import {
  acceptStatementNow,
  exportStatement,
  listStatements,
  type OpsOutput,
  reconcileStatementNow,
  showStatement,
} from "./statements.ts";
import type { Target } from "./target.ts";

const STATES = ["RECEIVED", "RECONCILED", "DISCREPANCIES", "DETAILS_REFUSED", "ACCEPTED"] as const;

/** What the service itself would run with on this target, for the reconciler. */
export function runtimeOf(target: Target): RuntimeConfig {
  if (target.kind === "local") {
    const stack = target.stack!;
    return {
      ...RUNTIME_DEFAULTS,
      stage: "local",
      tables: target.tables,
      piaids: stack.piaids ?? {},
      messageCodec: stack.messageCodec ?? "openpgp",
      ledgerTimeZone: stack.ledgerTimeZone ?? "UTC",
      ...(stack.keysDir && { keys: { source: "files" as const, dir: stack.keysDir } }),
      googleBaseUrl: stack.googleBaseUrl ?? RUNTIME_DEFAULTS.googleBaseUrl,
      statementAcceptance: stack.statementAcceptance ?? RUNTIME_DEFAULTS.statementAcceptance,
    };
  }
  const env = ENVIRONMENTS[target.environment as EnvironmentName];
  return {
    ...RUNTIME_DEFAULTS,
    stage: target.environment,
    tables: target.tables,
    piaids: env.piaids,
    messageCodec: "openpgp",
    ledgerTimeZone: env.ledgerTimeZone,
    keys: {
      source: "secretsmanager",
      ownSecretId: env.secrets.ourKeys,
      googleSecretId: env.secrets.googleKeys,
    },
    googleBaseUrl: env.googleBaseUrl,
    statementAcceptance: env.statementAcceptance ?? RUNTIME_DEFAULTS.statementAcceptance,
  };
}

/** The service's dependencies on this target; its log lines are not the command's output (stdout stays the command's). */
export const depsOn = (target: Target) =>
  serviceDeps(runtimeOf(target), {
    dynamodb: target.db,
    sqs: target.sqs,
    logger: new Logger({ serviceName: "ops", logLevel: "SILENT" }),
  });

const reconcilerOf = (target: Target) => depsOn(target).reconciler;

/** Prints an OpsOutput the CLI's way: lines for people, one JSON document for scripts. */
function emit(ctx: Context, out: OpsOutput): number {
  for (const line of out.lines) ctx.print(line);
  ctx.result(out.json as Record<string, unknown>);
  return out.exitCode === 0 ? EXIT.OK : EXIT.FAILED;
}

const stateOf = (v: Values): StatementState | undefined => {
  if (v.state === undefined) return undefined;
  const state = STATES.find((s) => s === v.state);
  if (!state) throw usage(`--state must be one of ${STATES.join(", ")}`);
  return state;
};

const ONE = ["PIAID", "statementId"];

export const statementCommands: Command<unknown>[] = [
  {
    name: "statements list",
    synopsis: "[--state S]",
    summary: "remittance statements, newest first, with their state and discrepancy count",
    help: `Lists the statements Google sent (a scan of the statements table: operators only).\nS: ${STATES.join(", ")}.`,
    options: { state: { type: "string", description: "only statements in this state" } },
    check: (values) => stateOf(values),
    run: async (ctx, state) =>
      emit(ctx, await listStatements(reconcilerOf(ctx.target), state as StatementState)),
  },
  {
    name: "statements show",
    synopsis: "<PIAID> <statementId>",
    summary: "a statement: totals both ways, every discrepancy, what is due by when, the memo line",
    help: "Prints the statement, its reconciliation and what to pay.",
    args: ONE,
    run: async (ctx) => emit(ctx, await showStatement(reconcilerOf(ctx.target), ctx.args[0]!, ctx.args[1]!)),
  },
  {
    name: "statements reconcile",
    synopsis: "<PIAID> <statementId>",
    summary: "reconcile again now (after a late capture arrived, or a refused details page)",
    help: "Fetches Google's details again and reconciles; accepts automatically where the environment does.",
    args: ONE,
    changes: true,
    run: async (ctx) => {
      await ctx.confirm(`reconcile statement ${ctx.args[1]}`);
      return emit(ctx, await reconcileStatementNow(reconcilerOf(ctx.target), ctx.args[0]!, ctx.args[1]!));
    },
  },
  {
    name: "statements accept",
    synopsis: "<PIAID> <statementId> [--override --reason TEXT]",
    summary:
      "accept a statement that reconciles exactly; one that does not only with --override and a reason",
    help: "Calls Google's acceptRemittanceStatement. The operator (this user) and any override reason are recorded on the statement.",
    args: ONE,
    options: {
      override: { type: "boolean", description: "accept although it does not reconcile (needs --reason)" },
      reason: { type: "string", description: "why, recorded with who" },
    },
    changes: true,
    check: (values) => {
      if (values.override && typeof values.reason !== "string") throw usage("--override needs --reason TEXT");
      return undefined;
    },
    run: async (ctx) => {
      await ctx.confirm(`accept statement ${ctx.args[1]}`);
      const { override, reason } = ctx.values;
      const out = await acceptStatementNow(reconcilerOf(ctx.target), ctx.args[0]!, ctx.args[1]!, {
        by: userInfo().username,
        ...(override === true && { override: true }),
        ...(typeof reason === "string" && { reason }),
      });
      return emit(ctx, out);
    },
  },
  {
    name: "statements export",
    synopsis: "<PIAID> <statementId> [--csv]",
    summary: "every line of the reconciliation for the finance team, as JSON or CSV",
    help: "Prints the reconciliation's lines (matched, discrepancies, totals).",
    args: ONE,
    options: { csv: { type: "boolean", description: "CSV instead of JSON" } },
    run: async (ctx) =>
      emit(
        ctx,
        await exportStatement(
          reconcilerOf(ctx.target),
          ctx.args[0]!,
          ctx.args[1]!,
          ctx.values.csv ? "csv" : "json",
        ),
      ),
  },
];
