import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AttributeValue,
  GetItemCommand,
  PutItemCommand,
  type TransactWriteItem,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import type { LocalStack } from "../../infra/local/stack.ts";
import {
  instrumentCopyName,
  itemToAccount,
  key,
  ledgerKeys,
  N,
  S,
} from "../../shared/adapters/dynamodb/items.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { copyInstrumentStatus, setInstrumentStatus } from "../../shared/adapters/dynamodb/ledger-store.ts";
import { periodsAt } from "../../shared/domain/periods.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { itemSize } from "../bench/dynamodb-meter.ts";
import { capture, captureRequest } from "../support/google.ts";
import { accountItem, balance } from "../support/ledger.ts";
import { customer as supportCustomer } from "../support/settlement.ts";
import { startTestStack } from "../support/stack.ts";

/**
 * The ledger layout: a debit is one Update of the account item (balance and spend counters together),
 * instrument changes bump the account's configuration version, and the earlier layout's spend items are
 * folded into the account on first use.
 */
const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const { ledger: ledgerTable } = stack.config.tables;
/** The client the service itself sends with (stack.dynamodb is the test's own). */
const service = stack.deps.dynamodb;
const INR = 1_000_000n;

/** Every request the service's client sends, with its input, from now until the returned stop. */
function recordInputs() {
  const seen: { command: string; input: Record<string, unknown> }[] = [];
  const name = `inputs-${Math.random()}`;
  service.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push({ command: context.commandName as string, input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: "initialize", name },
  );
  return { seen, stop: () => service.middlewareStack.remove(name) };
}

/** An account of its own, `acct-${name}`, with the token `gpt-${name}`; `inr` adds limits. */
const customer = (name: string, inr: Record<string, unknown> = {}) =>
  supportCustomer(stack, name, 1_000_000n * INR, inr);

/** Changes an account's item straight in the table, as an earlier layout (or a test's race) left it. */
async function updateAccount(
  accountId: string,
  update: Pick<
    UpdateItemCommandInput,
    "UpdateExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"
  >,
) {
  await stack.dynamodb.send(
    new UpdateItemCommand({ TableName: ledgerTable, Key: key(ledgerKeys.account(accountId)), ...update }),
  );
}

/** Removes the copy of an instrument's status from its account, as the earlier layout had it. */
const removeCopy = (accountId: string, copyName: string) =>
  updateAccount(accountId, {
    UpdateExpression: "REMOVE #copy",
    ExpressionAttributeNames: { "#copy": copyName },
  });

test("a fresh capture reads 2 keys (record + account) and writes 2 items (record + account); a decline is one Put", async () => {
  // Warm the token → account binding first, as a running process has it.
  assert.equal((await capture(stack.url, captureRequest({ amount: String(INR) }))).body.result, "SUCCESS");
  const fresh = recordInputs();
  const reply = await capture(stack.url, captureRequest({ amount: String(INR) }));
  fresh.stop();
  assert.equal(reply.body.result, "SUCCESS");
  assert.deepEqual(
    fresh.seen.map((s) => s.command),
    ["BatchGetItemCommand", "TransactWriteItemsCommand"],
  );
  const requested = fresh.seen[0]!.input.RequestItems as Record<
    string,
    { Keys: Record<string, AttributeValue>[]; ConsistentRead: boolean }
  >;
  assert.deepEqual(
    Object.values(requested).flatMap((r) => r.Keys.map((k) => `${k.pk!.S}${k.sk ? `/${k.sk.S}` : ""}`)),
    [`ACCOUNT#acct-demo-main/ACCOUNT`, requested[stack.config.tables.captures]!.Keys[0]!.pk!.S],
    "the account (which holds the token's status) and the record: 2 strongly consistent reads (2 RRU, each item < 4 KB)",
  );
  assert.ok(Object.values(requested).every((r) => r.ConsistentRead));
  const items = fresh.seen[1]!.input.TransactItems as TransactWriteItem[];
  assert.deepEqual(
    items.map((i) => Object.keys(i)[0]),
    ["Put", "Update"],
    "the record and the account: 2 items × 2 WRU = 4 WRU, no spend items, no ConditionCheck",
  );
  assert.ok(itemSize(items[0]!.Put!.Item!) < 1024, "the record stays under 1 KB (2 WRU transactional)");
  assert.ok(
    itemSize(await accountItem(stack, "acct-demo-main")) < 1024,
    "the account, with the copies of its 6 instruments' status, stays under 1 KB (2 WRU)",
  );

  const decline = recordInputs();
  const declined = await capture(stack.url, captureRequest({ amount: "500000" }));
  decline.stop();
  assert.equal(declined.body.result, "CHARGE_UNDER_LIMIT");
  assert.deepEqual(
    decline.seen.map((s) => s.command),
    ["BatchGetItemCommand", "PutItemCommand"],
    "a decline is one conditional Put (1 WRU)",
  );
});

test("limits hold under concurrency with the counters on the account: 30 racing captures, a limit of 10", async () => {
  await customer("race-day", { dailyMax: String(10n * INR) });
  await customer("race-count", { monthlyCountMax: 10 });
  for (const [token, accountId, decline] of [
    ["gpt-race-day", "acct-race-day", "CHARGE_EXCEEDS_DAILY_LIMIT"],
    ["gpt-race-count", "acct-race-count", "CHARGE_EXCEEDS_MONTHLY_LIMIT"],
  ] as const) {
    const before = await balance(stack, accountId);
    const replies = await Promise.all(
      Array.from({ length: 30 }, () =>
        capture(stack.url, captureRequest({ amount: String(INR), googlePaymentToken: token })),
      ),
    );
    const results = replies.map((r) => r.body.result);
    assert.equal(results.filter((r) => r === "SUCCESS").length, 10, `${token}: ${results.join(",")}`);
    assert.equal(results.filter((r) => r === decline).length, 20, `${token}: ${results.join(",")}`);
    assert.equal(before - (await balance(stack, accountId)), 10n * INR);
    const spend = itemToAccount(await accountItem(stack, accountId)).currencies.INR!.spend!;
    assert.equal(spend.dayAmount, 10n * INR);
    assert.equal(spend.monthAmount, 10n * INR);
    assert.equal(spend.monthCount, 10);
  }
});

test("a new day starts the day counter from the capture's amount; the month keeps counting", async () => {
  const periods = periodsAt(Date.now(), "UTC");
  await customer("rollover", { dailyMax: String(5n * INR), monthlyMax: String(100n * INR) });
  // Yesterday's counters at the daily limit, this month's at 40 INR over 4 captures.
  await updateAccount("acct-rollover", {
    UpdateExpression: "SET currencies.INR.spend = :spend",
    ExpressionAttributeValues: {
      ":spend": {
        M: {
          day: S("2000-01-01"),
          dayAmount: N(5n * INR),
          month: S(periods.month),
          monthAmount: N(40n * INR),
          monthCount: N(4),
        },
      },
    },
  });
  const body = captureRequest({
    amount: String(3n * INR),
    googlePaymentToken: "gpt-rollover",
  });
  assert.equal((await capture(stack.url, body)).body.result, "SUCCESS");
  const spend = itemToAccount(await accountItem(stack, "acct-rollover")).currencies.INR!.spend!;
  assert.deepEqual(spend, {
    day: periods.day,
    dayAmount: 3n * INR,
    month: periods.month,
    monthAmount: 43n * INR,
    monthCount: 5,
  });
  const over = captureRequest({
    amount: String(3n * INR),
    googlePaymentToken: "gpt-rollover",
  });
  assert.equal((await capture(stack.url, over)).body.result, "CHARGE_EXCEEDS_DAILY_LIMIT", "3 + 3 > 5 today");
});

test("a token invalidated between the read and the write: the capture is decided again and moves no money", async () => {
  await customer("invalidate");
  const before = await balance(stack, "acct-invalidate");
  const name = "invalidate-before-write";
  let injected = 0;
  // The latency a real race has: the change lands after the capture read its facts, before it writes.
  service.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "TransactWriteItemsCommand" && injected === 0) {
        injected++;
        await setInstrumentStatus(
          stack.dynamodb,
          ledgerTable,
          {
            kind: "TOKEN",
            googlePaymentToken: "gpt-invalidate",
            accountId: "acct-invalidate",
            status: "ACTIVE",
          },
          "INVALIDATED_BY_USER",
        );
      }
      return next(args);
    },
    { step: "initialize", name },
  );
  try {
    const body = captureRequest({
      amount: String(INR),
      googlePaymentToken: "gpt-invalidate",
    });
    const reply = await capture(stack.url, body);
    assert.equal(injected, 1);
    assert.equal(reply.body.result, "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER");
  } finally {
    service.middlewareStack.remove(name);
  }
  assert.equal(await balance(stack, "acct-invalidate"), before, "no debit after the instrument changed");
});

test("an account of the earlier layout: its spend items count, and are folded into the account on first use", async () => {
  const periods = periodsAt(Date.now(), "UTC");
  await customer("legacy", { dailyMax: String(11n * INR), monthlyCountMax: 3 });
  // As the earlier code left it: no counters on the account, day and month in items of their own.
  await updateAccount("acct-legacy", { UpdateExpression: "REMOVE currencies.INR.spend" });
  for (const [k, item] of [
    [ledgerKeys.legacyDaySpend("acct-legacy", "INR", periods.day), { amount: N(8n * INR) }],
    [ledgerKeys.legacyMonthSpend("acct-legacy", "INR", periods.month), { amount: N(8n * INR), count: N(2) }],
  ] as const) {
    await stack.dynamodb.send(new PutItemCommand({ TableName: ledgerTable, Item: { ...key(k), ...item } }));
  }
  const tooMuch = captureRequest({
    amount: String(4n * INR),
    googlePaymentToken: "gpt-legacy",
  });
  assert.equal((await capture(stack.url, tooMuch)).body.result, "CHARGE_EXCEEDS_DAILY_LIMIT", "8 + 4 > 11");
  assert.deepEqual(itemToAccount(await accountItem(stack, "acct-legacy")).currencies.INR!.spend, {
    day: periods.day,
    dayAmount: 8n * INR,
    month: periods.month,
    monthAmount: 8n * INR,
    monthCount: 2,
  });
  const fits = captureRequest({ amount: String(2n * INR), googlePaymentToken: "gpt-legacy" });
  assert.equal((await capture(stack.url, fits)).body.result, "SUCCESS");
  const third = captureRequest({ amount: String(INR), googlePaymentToken: "gpt-legacy" });
  assert.equal(
    (await capture(stack.url, third)).body.result,
    "CHARGE_EXCEEDS_MONTHLY_LIMIT",
    "a 4th this month",
  );
});

test("an account of the earlier layout holds no copy of its token's status: it is copied on first use, then read from the account", async () => {
  await customer("copy");
  const copyName = instrumentCopyName(ledgerKeys.token("gpt-copy").pk);
  assert.deepEqual(
    (await accountItem(stack, "acct-copy"))[copyName],
    S("ACTIVE"),
    "the loader writes the copy",
  );
  // As the earlier code left it: the status on the token's item only.
  await removeCopy("acct-copy", copyName);
  const before = await balance(stack, "acct-copy");
  const first = recordInputs();
  const reply = await capture(
    stack.url,
    captureRequest({ amount: String(INR), googlePaymentToken: "gpt-copy" }),
  );
  first.stop();
  assert.equal(reply.body.result, "SUCCESS");
  assert.equal(before - (await balance(stack, "acct-copy")), INR);
  assert.deepEqual(
    first.seen.map((s) => s.command),
    [
      "BatchGetItemCommand", // the token (this process had not seen it) + the record
      "BatchGetItemCommand", // the account: no copy
      "TransactWriteItemsCommand", // the copy, under the token's status as read
      "BatchGetItemCommand", // the account again, with the copy
      "TransactWriteItemsCommand", // record + debit
    ],
  );
  assert.deepEqual((await accountItem(stack, "acct-copy"))[copyName], S("ACTIVE"));

  // From now on the token's item is not read: its status comes from the account.
  const warm = recordInputs();
  const again = await capture(
    stack.url,
    captureRequest({ amount: String(INR), googlePaymentToken: "gpt-copy" }),
  );
  warm.stop();
  assert.equal(again.body.result, "SUCCESS");
  assert.deepEqual(
    warm.seen.map((s) => s.command),
    ["BatchGetItemCommand", "TransactWriteItemsCommand"],
  );

  // A status change writes item and copy together: the next capture sees it without reading the token's item.
  await setInstrumentStatus(
    stack.dynamodb,
    ledgerTable,
    { kind: "TOKEN", googlePaymentToken: "gpt-copy", accountId: "acct-copy", status: "ACTIVE" },
    "INVALIDATED_BY_USER",
  );
  assert.deepEqual((await accountItem(stack, "acct-copy"))[copyName], S("INVALIDATED_BY_USER"));
  const refused = await capture(
    stack.url,
    captureRequest({ amount: String(INR), googlePaymentToken: "gpt-copy" }),
  );
  assert.equal(refused.body.result, "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER");
  assert.equal(before - (await balance(stack, "acct-copy")), 2n * INR, "no debit for an invalidated token");
});

test("a copy is never written over a newer status: the copy of the earlier layout is refused once the token moved", async () => {
  await customer("copy-race");
  const copyName = instrumentCopyName(ledgerKeys.token("gpt-copy-race").pk);
  await removeCopy("acct-copy-race", copyName);
  const token = {
    kind: "TOKEN",
    googlePaymentToken: "gpt-copy-race",
    accountId: "acct-copy-race",
    status: "ACTIVE",
  } as const;
  // The token is invalidated after a capture read it ACTIVE, before that capture copies ACTIVE onto the account.
  await setInstrumentStatus(stack.dynamodb, ledgerTable, token, "INVALIDATED_BY_USER");
  await copyInstrumentStatus(stack.dynamodb, ledgerTable, token);
  assert.deepEqual((await accountItem(stack, "acct-copy-race"))[copyName], S("INVALIDATED_BY_USER"));
  // And with no copy yet, a stale status is refused by the token's own item.
  await removeCopy("acct-copy-race", copyName);
  await copyInstrumentStatus(stack.dynamodb, ledgerTable, token);
  assert.equal(
    (await accountItem(stack, "acct-copy-race"))[copyName],
    undefined,
    "ACTIVE is not the token's status",
  );
  const reply = await capture(
    stack.url,
    captureRequest({ amount: String(INR), googlePaymentToken: "gpt-copy-race" }),
  );
  assert.equal(reply.body.result, "GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER");
  assert.deepEqual(
    (await accountItem(stack, "acct-copy-race"))[copyName],
    S("INVALIDATED_BY_USER"),
    "copied as it is",
  );
});

test("the loader writes an instrument only with its account, which carries the instrument's copy", async () => {
  const ledger = parseLedgerFixture({
    accounts: [{ accountId: "acct-loaded", status: "ACTIVE", currencies: { INR: { balance: String(INR) } } }],
    tokens: [{ googlePaymentToken: "gpt-loaded", accountId: "acct-loaded", status: "ACTIVE" }],
  });
  const stray = { ...ledger.instruments[0]!, accountId: "acct-not-loaded" };
  await assert.rejects(
    loadLedger(stack.dynamodb, ledgerTable, { ...ledger, instruments: [...ledger.instruments, stray] }),
    /account acct-not-loaded, not in this ledger/,
  );
  const stored = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: ledgerTable,
      Key: key(ledgerKeys.account("acct-loaded")),
      ConsistentRead: true,
    }),
  );
  assert.equal(stored.Item, undefined, "nothing written");
});
