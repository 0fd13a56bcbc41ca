/**
 * What every operator command is made of: a name, its help, its options, whether it changes
 * anything, and a `run` that receives a checked context. cli.ts holds the registry; a new command
 * is one more entry there.
 */
import { createInterface } from "node:readline/promises";
import type { Target } from "./target.ts";

/** Exit codes, the same for every command (README "Operators"). */
export const EXIT = {
  /** Done, or nothing to do. */
  OK: 0,
  /** Failed: no running stack, no such record or message, AWS refused, or a bounded run stopped short. */
  FAILED: 1,
  /** Refused before acting: a bad or unknown argument, `--env` where it is not allowed, or a change outside the local stack without `--yes` and no terminal to ask on. */
  USAGE: 2,
  /** Not confirmed at the prompt: nothing changed. */
  DECLINED: 3,
} as const;

/** Stops a command with an exit code and one sentence for the operator. */
export class OpsError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.FAILED) {
    super(message);
    this.exitCode = exitCode;
  }
}
export const usage = (message: string) => new OpsError(message, EXIT.USAGE);

export interface OptionSpec {
  type: "string" | "boolean";
  /** Shown in the overview. */
  description?: string;
}

export type Values = Record<string, string | boolean | undefined>;

/** A string option's value, if given. */
export const stringOption = (v: Values, name: string) =>
  typeof v[name] === "string" ? (v[name] as string) : undefined;

/** What every command's `run` receives: its checked arguments and where its output goes. */
export interface Output {
  values: Values;
  /** Positional arguments after the command's name, as many as `args` names. */
  args: string[];
  json: boolean;
  /** A line for people; nothing in --json mode. */
  print(line: string): void;
  /** The result for scripts (--json), one JSON document on stdout with the target. */
  result(value: Record<string, unknown>): void;
}

/** What a command that acts on a target receives. */
export interface Context extends Output {
  target: Target;
  /** Before a change outside the local stack: asks, or needs --yes; throws if not confirmed. */
  confirm(change: string): Promise<void>;
}

/**
 * One command. `check` reads and validates the arguments before any target is touched (throw
 * `usage(...)`, exit 2) and returns what `run` needs; `run` then acts on the resolved target, or,
 * for a `targetless` command (one that reads no table or queue, like `keys`), on its arguments alone.
 */
export type Command<Checked = undefined> = CommandInfo<Checked> &
  (
    | { targetless?: false; run(context: Context, checked: Checked): Promise<number | undefined> }
    | { targetless: true; run(output: Output, checked: Checked): Promise<number | undefined> }
  );

interface CommandInfo<Checked> {
  /** The words that select it: "dlq list", "recover". */
  name: string;
  /** The usage line's arguments and options, after the name. */
  synopsis: string;
  /** One line for the overview. */
  summary: string;
  /** What it does, in a few lines (shown by --help). */
  help: string;
  /** Names of its positional arguments, all required. */
  args?: string[];
  options?: Record<string, OptionSpec>;
  /** Works on the local stack only: refuses --env. */
  localOnly?: boolean;
  /** It may change something: its help offers --yes, and its `run` asks first through `confirm` (a dry run need not). */
  changes?: boolean;
  check?(values: Values, args: string[], now: number): Checked;
}

/** Asks on the terminal; without one, refuses (a script must say --yes). */
export async function askToConfirm(change: string, target: Target, yes: boolean): Promise<void> {
  if (target.kind === "local" || yes) return;
  const where = `environment ${target.environment} (account ${target.account}, region ${target.region})`;
  if (!process.stdin.isTTY)
    throw usage(`${change} would change ${where}: pass --yes to confirm (there is no terminal to ask on).`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${change} in ${where}. Type the environment's name to go ahead: `);
    if (answer.trim() !== target.environment)
      throw new OpsError("not confirmed: nothing changed.", EXIT.DECLINED);
  } finally {
    rl.close();
  }
}

const UNITS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30m" → ms; s, m, h or d. */
export function durationOption(name: string, text: string): number {
  const m = /^(\d{1,9})(s|m|h|d)$/.exec(text);
  if (!m) throw usage(`--${name} takes a number and s, m, h or d (e.g. 30m), not "${text}".`);
  return Number(m[1]) * UNITS[m[2] as keyof typeof UNITS];
}

/** An instant: ISO 8601 ("2026-11-30T02:00:00Z") or a duration ago ("2h"). */
export function instantOption(name: string, text: string, now: number): number {
  if (/^\d{1,9}[smhd]$/.test(text)) return now - durationOption(name, text);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms))
    throw usage(
      `--${name} takes an ISO 8601 time (2026-11-30T02:00:00Z) or a duration ago (90m, 2h), not "${text}".`,
    );
  return ms;
}

export function integerOption(name: string, text: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max)
    throw usage(`--${name} takes a whole number from ${min} to ${max}, not "${text}".`);
  return Number(text);
}

/** "42s", "17m", "3.5h", "2.0d" ago. */
export function ago(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)}h`;
  return `${(ms / 86_400_000).toFixed(1)}d`;
}

export const iso = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString());

/** A progress bar on stderr, drawn only on a terminal (and its last state always). */
export function progress(done: number, total: number) {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  process.stderr.write(
    `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}${done === total ? "\n" : ""}`,
  );
}
