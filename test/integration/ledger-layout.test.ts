import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AttributeValue,
  GetItemCommand,
  PutItemCommand,
  type TransactWriteItem,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { LocalStack } from "../../infra/local/stack.ts";
import { itemToAccount, key, ledgerKeys, N, S } from "../../shared/adapters/dynamodb/items.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { setInstrumentStatus } from "../../shared/adapters/dynamodb/ledger-store.ts";
import { periodsAt } from "../../shared/domain/periods.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { capture, captureRequest } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
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

const itemBytes = (item: Record<string, AttributeValue>) => Buffer.byteLength(JSON.stringify(item));

async function accountItem(accountId: string) {
  const out = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: ledgerTable,
      Key: key(ledgerKeys.account(accountId)),
      ConsistentRead: true,
    }),
  );
  return out.Item!;
}

async function load(fixture: unknown) {
  await loadLedger(stack.dynamodb, ledgerTable, parseLedgerFixture(fixture));
}

const account = (accountId: string, inr: Record<string, unknown>) => ({
  accountId,
  status: "ACTIVE",
  currencies: { INR: { balance: String(1_000_000n * INR), ...inr } },
});

test("a fresh capture reads 3 keys and writes 2 items (record + account); a decline is one Put", async () => {
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
  const requested = fresh.seen[0]!.input.RequestItems as Record<string, { Keys: unknown[] }>;
  assert.equal(
    Object.values(requested).reduce((n, r) => n + r.Keys.length, 0),
    3,
    "record, instrument and account: 3 strongly consistent reads (≤ 3 RRU, each item < 4 KB)",
  );
  const items = fresh.seen[1]!.input.TransactItems as TransactWriteItem[];
  assert.deepEqual(
    items.map((i) => Object.keys(i)[0]),
    ["Put", "Update"],
    "the record and the account: 2 items × 2 WRU = 4 WRU, no spend items, no ConditionCheck",
  );
  assert.ok(itemBytes(items[0]!.Put!.Item!) < 1024, "the record stays under 1 KB (2 WRU transactional)");
  assert.ok(itemBytes(await accountItem("acct-demo-main")) < 1024, "the account stays under 1 KB (2 WRU)");

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
  await load({
    accounts: [
      account("acct-race-day", { dailyMax: String(10n * INR) }),
      account("acct-race-count", { monthlyCountMax: 10 }),
    ],
    tokens: [
      { googlePaymentToken: "gpt-race-day", accountId: "acct-race-day", status: "ACTIVE" },
      { googlePaymentToken: "gpt-race-count", accountId: "acct-race-count", status: "ACTIVE" },
    ],
  });
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
    const spend = itemToAccount(await accountItem(accountId)).currencies.INR!.spend!;
    assert.equal(spend.dayAmount, 10n * INR);
    assert.equal(spend.monthAmount, 10n * INR);
    assert.equal(spend.monthCount, 10);
  }
});

test("a new day starts the day counter from the capture's amount; the month keeps counting", async () => {
  const periods = periodsAt(Date.now(), "UTC");
  await load({
    accounts: [account("acct-rollover", { dailyMax: String(5n * INR), monthlyMax: String(100n * INR) })],
    tokens: [{ googlePaymentToken: "gpt-rollover", accountId: "acct-rollover", status: "ACTIVE" }],
  });
  // Yesterday's counters at the daily limit, this month's at 40 INR over 4 captures.
  await stack.dynamodb.send(
    new UpdateItemCommand({
      TableName: ledgerTable,
      Key: key(ledgerKeys.account("acct-rollover")),
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
    }),
  );
  const body = captureRequest({
    amount: String(3n * INR),
    googlePaymentToken: "gpt-rollover",
  });
  assert.equal((await capture(stack.url, body)).body.result, "SUCCESS");
  const spend = itemToAccount(await accountItem("acct-rollover")).currencies.INR!.spend!;
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
  await load({
    accounts: [account("acct-invalidate", {})],
    tokens: [{ googlePaymentToken: "gpt-invalidate", accountId: "acct-invalidate", status: "ACTIVE" }],
  });
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
  await load({
    accounts: [account("acct-legacy", { dailyMax: String(11n * INR), monthlyCountMax: 3 })],
    tokens: [{ googlePaymentToken: "gpt-legacy", accountId: "acct-legacy", status: "ACTIVE" }],
  });
  // As the earlier code left it: no counters on the account, day and month in items of their own.
  await stack.dynamodb.send(
    new UpdateItemCommand({
      TableName: ledgerTable,
      Key: key(ledgerKeys.account("acct-legacy")),
      UpdateExpression: "REMOVE currencies.INR.spend",
    }),
  );
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
  assert.deepEqual(itemToAccount(await accountItem("acct-legacy")).currencies.INR!.spend, {
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
