/**
 * Operator commands: `npm run ops -- <command> --help`. Each works on the local stack (found through
 * .local/stack.json, written by `npm start`) or a deployed environment (`--env NAME`, with the usual
 * AWS credentials and region). Every command checks its arguments before acting (exit 2), prints
 * its target on stderr (a `targetless` one, like `keys`, has none), offers --json, and asks before
 * changing anything outside the local stack.
 * Adding a command: one more entry in COMMANDS (see Command in command.ts).
 */
import { parseArgs } from "node:util";
import { captureCommands } from "./captures.ts";
import {
  askToConfirm,
  type Command,
  EXIT,
  OpsError,
  type OptionSpec,
  type Output,
  usage,
  type Values,
} from "./command.ts";
import { dlqCommands } from "./dlq.ts";
import { googleCommands } from "./google-commands.ts";
import { keysCommand } from "./keys.ts";
import { ledgerCommands } from "./ledger.ts";
import { refundCommands } from "./refunds.ts";
import { statementCommands } from "./statement-commands.ts";
import { describeTarget, resolveTarget, type Target, targetJson } from "./target.ts";

const COMMANDS: readonly Command<unknown>[] = [
  ...dlqCommands,
  ...captureCommands,
  ...refundCommands,
  ...statementCommands,
  ...googleCommands,
  ...ledgerCommands,
  // The keyrings are not the stack's: `keys` reads the keys folder or the environment's secrets itself.
  keysCommand as Command<unknown>,
];

const GLOBAL_OPTIONS: Record<string, OptionSpec & { short?: string }> = {
  env: {
    type: "string",
    description: "a deployed environment (tables and queues gsp-NAME-…) instead of the local stack",
  },
  "stack-file": {
    type: "string",
    description: "the local stack's description (default .local/stack.json, or LOCAL_STACK_FILE)",
  },
  json: { type: "boolean", description: "one JSON document on stdout, for scripts" },
  yes: { type: "boolean", description: "confirm a change outside the local stack without asking" },
  help: { type: "boolean", short: "h", description: "this help" },
};

const EXIT_CODES = `exit codes: 0 done; 1 failed (no stack, not found, AWS refused, a bounded run stopped short);
2 refused before acting (bad or unknown argument, --env where not allowed, a change outside the
local stack without --yes and no terminal); 3 not confirmed at the prompt (nothing changed)`;

const optionLines = (options: Record<string, OptionSpec>) =>
  Object.entries(options).map(
    ([name, o]) => `  --${name}${o.type === "string" ? " <value>" : ""}`.padEnd(32) + (o.description ?? ""),
  );

function overview(): string {
  return [
    "usage: npm run ops -- <command> [options]    (each command has --help)",
    "",
    ...COMMANDS.flatMap((c) => [`  ${c.name} ${c.synopsis}`.trimEnd(), `      ${c.summary}`]),
    "",
    "options of every command:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    EXIT_CODES,
  ].join("\n");
}

const helpOf = (c: Command<unknown>) =>
  [
    `usage: npm run ops -- ${c.name} ${c.synopsis}`.trimEnd(),
    "",
    c.help,
    ...(c.options ? ["", "options:", ...optionLines(c.options)] : []),
    "",
    `and: --env NAME | --stack-file PATH, --json${c.changes ? ", --yes" : ""}`,
    EXIT_CODES,
  ].join("\n");

type ParseOptions = Record<string, { type: "string" | "boolean"; short?: string }>;
const parseOptionsOf = (...sets: Record<string, OptionSpec & { short?: string }>[]): ParseOptions =>
  Object.fromEntries(
    sets
      .flatMap((s) => Object.entries(s))
      .map(([name, o]) => [name, { type: o.type, ...(o.short && { short: o.short }) }]),
  );

/** The command named by the first positionals: the longest name that matches. */
function commandOf(positionals: string[]): { command: Command<unknown> | undefined; args: string[] } {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(" ");
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, args: positionals.slice(words) };
  }
  return { command: undefined, args: positionals };
}

async function main(argv: string[]): Promise<number> {
  // Service code run from here (keyrings, the reconciler) must not print EMF metrics into the command's stdout.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  // First pass: find the command (every command's options known, so option values are not taken for words).
  const loose = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: parseOptionsOf(GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options ?? {})),
  });
  const { command, args: looseArgs } = commandOf(loose.positionals);
  if (!command) {
    if (loose.positionals.length === 0) {
      console.log(overview());
      return loose.values.help ? EXIT.OK : EXIT.USAGE;
    }
    throw usage(`no command "${loose.positionals.join(" ")}"\n\n${overview()}`);
  }
  if (loose.values.help) {
    console.log(helpOf(command));
    return EXIT.OK;
  }
  // Second pass: only this command's options; anything else is refused with the reason.
  let values: Values;
  try {
    values = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: parseOptionsOf(GLOBAL_OPTIONS, command.options ?? {}),
    }).values as Values;
  } catch (error) {
    throw usage(
      `${(error as Error).message.split("\n")[0]} (${command.name} takes: ${Object.keys({
        ...command.options,
        ...GLOBAL_OPTIONS,
      })
        .map((o) => `--${o}`)
        .join(", ")})`,
    );
  }
  const wanted = command.args ?? [];
  if (looseArgs.length !== wanted.length)
    throw usage(
      wanted.length === 0
        ? `${command.name} takes no arguments, got: ${looseArgs.join(" ")}`
        : `${command.name} needs ${wanted.map((a) => `<${a}>`).join(" ")}${looseArgs.length > wanted.length ? `, got also: ${looseArgs.slice(wanted.length).join(" ")}` : ""}\n\n${helpOf(command)}`,
    );
  if (command.localOnly && values.env !== undefined)
    throw usage(`${command.name} works on the local stack only and refuses --env: ${command.summary}.`);

  const checked = command.check?.(values, looseArgs, Date.now());
  const json = values.json === true;
  let result: Record<string, unknown> = {};
  const output: Output = {
    values,
    args: looseArgs,
    json,
    print: (line) => {
      if (!json) console.log(line);
    },
    result: (value) => {
      result = value;
    },
  };
  const printResult = (target?: Target) => {
    if (json)
      console.log(
        JSON.stringify(
          { command: command.name, ...(target && { target: targetJson(target) }), ...result },
          null,
          2,
        ),
      );
  };
  if (command.targetless) {
    const code = (await command.run(output, checked)) ?? EXIT.OK;
    printResult();
    return code;
  }
  const target: Target = await resolveTarget(values as { env?: string; "stack-file"?: string });
  try {
    console.error(describeTarget(target));
    const code =
      (await command.run(
        { ...output, target, confirm: (change) => askToConfirm(change, target, values.yes === true) },
        checked,
      )) ?? EXIT.OK;
    printResult(target);
    return code;
  } finally {
    target.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(error instanceof OpsError ? error.exitCode : EXIT.FAILED);
  },
);
