/** Ledger fixtures into the local stack (never an environment: the load replaces balances unconditionally). */
import { readFileSync } from "node:fs";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { type Command, EXIT, usage } from "./command.ts";

const load: Command = {
  name: "ledger load",
  synopsis: "<fixture.json>",
  summary: "load a ledger fixture into the running local stack (refuses --env)",
  help: `Loads a ledger fixture into the running local stack: accounts, instruments, OTPs… are replaced,
balances included, with unconditional writes. That is why it refuses --env: it never touches a
deployed environment. The format is in README "Ledger fixtures".`,
  args: ["fixture.json"],
  localOnly: true,
  async run(ctx) {
    const [file] = ctx.args as [string];
    let ledger: ReturnType<typeof parseLedgerFixture>;
    // Read once the stack is known to run, so "no stack" comes first (the fixture is checked all the same).
    try {
      ledger = parseLedgerFixture(JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
      throw usage(`cannot load ${file}: ${(error as Error).message}`);
    }
    const n = await loadLedger(ctx.target.db, ctx.target.tables.ledger, ledger);
    ctx.print(
      `loaded ${n} ledger items (${ledger.accounts.length} accounts) into ${ctx.target.tables.ledger}`,
    );
    ctx.result({ items: n, accounts: ledger.accounts.length, table: ctx.target.tables.ledger });
    return EXIT.OK;
  },
};

export const ledgerCommands = [load] as Command<unknown>[];
