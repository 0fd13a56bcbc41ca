/**
 * Operator commands: `npm run ops -- <command> --help`.
 * Against the local stack they find it through .local/stack.json, written by `npm start`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { LOCAL_AWS } from "../local/emulators.ts";

const DEFAULT_STACK_FILE = resolve(import.meta.dirname, "../../.local/stack.json");

const USAGE = `usage: npm run ops -- <command> [options]

commands:
  ledger load <fixture.json>   load a ledger fixture into the running local stack
                               (accounts, instruments, OTPs… are replaced, balances included)

options:
  --stack-file <path>          the running stack's description (default .local/stack.json)
  -h, --help                   this help`;

interface StackFile {
  endpoints: { dynamodb: string };
  tables: { ledger: string };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { "stack-file": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const [group, command, file] = positionals;
  if (values.help || !group) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (group === "ledger" && command === "load") {
    if (!file) {
      console.error("ledger load needs the path of a fixture file\n");
      console.error(USAGE);
      return 2;
    }
    const stackFile = values["stack-file"] ?? DEFAULT_STACK_FILE;
    let stack: StackFile;
    try {
      stack = JSON.parse(readFileSync(stackFile, "utf8"));
    } catch {
      console.error(`no running local stack described at ${stackFile}: start one with \`npm start\``);
      return 1;
    }
    const ledger = parseLedgerFixture(JSON.parse(readFileSync(file, "utf8")));
    const db = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.endpoints.dynamodb });
    try {
      const n = await loadLedger(db, stack.tables.ledger, ledger);
      console.log(
        `loaded ${n} ledger items (${ledger.accounts.length} accounts) into ${stack.tables.ledger}`,
      );
    } finally {
      db.destroy();
    }
    return 0;
  }
  console.error(`unknown command: ${positionals.join(" ")}\n`);
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
