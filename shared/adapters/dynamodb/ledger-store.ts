import {
  type DynamoDBClient,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import {
  type Account,
  currentPeriods,
  type Instrument,
  NO_SPEND,
  type SpendCounters,
} from "../../domain/ledger.ts";
import type { Periods } from "../../domain/periods.ts";
import {
  type Item,
  instrumentCopy,
  instrumentCopyName,
  key,
  ledgerKeys,
  N,
  S,
  SPEND_NAMES,
  spendToAttribute,
} from "./items.ts";

/**
 * The ledger's writes that money and limits depend on: the debit of an account (balance and spend
 * counters on the one account item), instrument changes, and the one-off folds of the earlier layout.
 */

/** What a debit relies on: the account as read and the amount, in the periods the capture is decided in. */
export interface AccountDebit {
  account: Account;
  currencyCode: string;
  amount: bigint;
  periods: Periods;
}

/**
 * The debit of one account as one Update of its item: balance and spend counters, each under a condition
 * that holds the fact the decision relied on (status, funding, configuration version — bumped by every
 * instrument change too — balance, room under each limit, the period the counters are in). A concurrent
 * change fails the write instead of overdrawing or overspending.
 */
export function debitAccount(ledgerTable: string, d: AccountDebit): TransactWriteItem {
  const currency = d.account.currencies[d.currencyCode]!;
  const limits = currency.limits;
  const counters = currency.spend ?? NO_SPEND;
  const current = currentPeriods(counters, d.periods);
  const c = "currencies.#cur";
  const sp = `${c}.#sp`;
  const values: Item = {
    ":amount": N(d.amount),
    ":active": S("ACTIVE"),
    ":available": S("AVAILABLE"),
    ":version": N(d.account.configVersion),
  };
  const set = [`${c}.balance = ${c}.balance - :amount`];
  const conditions = [
    "#status = :active",
    "fundingSource = :available",
    "configVersion = :version",
    `${c}.balance >= :amount`,
  ];
  // Same period: add under the room the limit leaves. New period: start from this amount, only if
  // nobody started it first (the counters are still in the period that was read).
  const counter = (
    period: "#day" | "#month",
    amountName: "#dayAmount" | "#monthAmount",
    same: boolean,
    periodNow: string,
    periodRead: string | undefined,
    max: bigint | undefined,
  ) => {
    const v = period === "#day" ? ":day" : ":month";
    values[v] = S(periodNow);
    if (same) {
      set.push(`${sp}.${amountName} = ${sp}.${amountName} + :amount`);
      conditions.push(`${sp}.${period} = ${v}`);
      if (max !== undefined) {
        values[`${v}Room`] = N(max - d.amount);
        conditions.push(`${sp}.${amountName} <= ${v}Room`);
      }
    } else {
      set.push(`${sp}.${period} = ${v}`, `${sp}.${amountName} = :amount`);
      if (periodRead === undefined) conditions.push(`attribute_not_exists(${sp}.${period})`);
      else {
        values[`${v}Read`] = S(periodRead);
        conditions.push(`${sp}.${period} = ${v}Read`);
      }
    }
  };
  counter("#day", "#dayAmount", current.sameDay, current.day, counters.day, limits.dailyMax);
  counter("#month", "#monthAmount", current.sameMonth, current.month, counters.month, limits.monthlyMax);
  values[":one"] = N(1);
  if (current.sameMonth) {
    set.push(`${sp}.#monthCount = ${sp}.#monthCount + :one`);
    if (limits.monthlyCountMax !== undefined) {
      values[":maxCount"] = N(limits.monthlyCountMax);
      conditions.push(`${sp}.#monthCount < :maxCount`);
    }
  } else set.push(`${sp}.#monthCount = :one`);
  return {
    Update: {
      TableName: ledgerTable,
      Key: key(ledgerKeys.account(d.account.accountId)),
      UpdateExpression: `SET ${set.join(", ")}`,
      ConditionExpression: conditions.join(" AND "),
      ExpressionAttributeNames: { "#cur": d.currencyCode, "#status": "status", ...SPEND_NAMES },
      ExpressionAttributeValues: values,
    },
  };
}

/**
 * A refund's credit: back to the account the capture debited, only while it can receive money (ACTIVE,
 * still holding the currency). Spend counters are left alone: limits count what the customer spent, and
 * a refund does not give back limit room (as in most cards and wallets). On refusal the account comes
 * back with the cancellation, so the refund is declined with its status without a second read.
 */
export function creditAccount(
  ledgerTable: string,
  c: { accountId: string; currencyCode: string; amount: bigint },
): TransactWriteItem {
  return {
    Update: {
      TableName: ledgerTable,
      Key: key(ledgerKeys.account(c.accountId)),
      UpdateExpression: "SET currencies.#cur.balance = currencies.#cur.balance + :amount",
      ConditionExpression: "#status = :active AND attribute_exists(currencies.#cur)",
      ExpressionAttributeNames: { "#cur": c.currencyCode, "#status": "status" },
      ExpressionAttributeValues: { ":amount": N(c.amount), ":active": S("ACTIVE") },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    },
  };
}

/**
 * Changes an instrument's status, its copy on the account item (items.ts, instrumentCopyName) and the
 * account's configuration version in one transaction, so a capture decided on the instrument's earlier
 * state fails its debit condition and is decided again: the debit needs no check of the instrument item.
 */
export async function setInstrumentStatus(
  db: DynamoDBClient,
  ledgerTable: string,
  instrument: Exclude<Instrument, { kind: "VPA" }>,
  status: string,
): Promise<void> {
  await db.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Update: {
            TableName: ledgerTable,
            Key: key(ledgerKeys.instrument(instrument)),
            UpdateExpression: "SET #status = :status",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ":status": S(status) },
          },
        },
        {
          Update: {
            TableName: ledgerTable,
            Key: key(ledgerKeys.account(instrument.accountId)),
            UpdateExpression: "SET #copy = :status ADD configVersion :one",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: { "#copy": instrumentCopyName(ledgerKeys.instrument(instrument).pk) },
            ExpressionAttributeValues: { ":status": S(status), ":one": N(1) },
          },
        },
      ],
    }),
  );
}

/**
 * An account of the earlier layout holds no copy of its instruments' status. The first time a capture
 * meets one, the instrument's status as read is copied onto the account in one transaction, under the
 * conditions that the instrument still has it and the account has no copy yet (setInstrumentStatus writes
 * one from then on). A refusal is not an error: the caller reads the account again and finds a copy, or
 * tries again.
 */
export async function copyInstrumentStatus(
  db: DynamoDBClient,
  ledgerTable: string,
  instrument: Instrument,
): Promise<void> {
  const instrumentKey = ledgerKeys.instrument(instrument);
  try {
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: ledgerTable,
              Key: key(instrumentKey),
              ...(instrument.kind === "VPA"
                ? { ConditionExpression: "accountId = :account" }
                : {
                    ConditionExpression: "accountId = :account AND #status = :status",
                    ExpressionAttributeNames: { "#status": "status" },
                  }),
              ExpressionAttributeValues: {
                ":account": S(instrument.accountId),
                ...(instrument.kind !== "VPA" && { ":status": S(instrument.status) }),
              },
            },
          },
          {
            Update: {
              TableName: ledgerTable,
              Key: key(ledgerKeys.account(instrument.accountId)),
              UpdateExpression: "SET #copy = :copy",
              ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(#copy)",
              ExpressionAttributeNames: { "#copy": instrumentCopyName(instrumentKey.pk) },
              ExpressionAttributeValues: { ":copy": instrumentCopy(instrument) },
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
  }
}

/**
 * The earlier layout kept spend in separate day and month items. The first time an account currency of
 * that layout is used, its current counters move onto the account item, under conditions that the
 * account was not folded meanwhile and the old items still hold what was read (a writer of the old
 * layout still running makes the fold fail, and it is tried again on the next read).
 * Returns true when the counters are now on the account (folded here or by someone else).
 */
export async function foldLegacySpend(
  db: DynamoDBClient,
  ledgerTable: string,
  accountId: string,
  currencyCode: string,
  periods: Periods,
  read: (keys: { pk: string; sk: string }[]) => Promise<Map<string, Item>>,
): Promise<boolean> {
  const dayKey = ledgerKeys.legacyDaySpend(accountId, currencyCode, periods.day);
  const monthKey = ledgerKeys.legacyMonthSpend(accountId, currencyCode, periods.month);
  const items = await read([dayKey, monthKey]);
  const day = items.get(dayKey.pk + dayKey.sk);
  const month = items.get(monthKey.pk + monthKey.sk);
  const counters: SpendCounters = {
    day: periods.day,
    dayAmount: BigInt(day?.amount?.N ?? "0"),
    month: periods.month,
    monthAmount: BigInt(month?.amount?.N ?? "0"),
    monthCount: Number(month?.count?.N ?? "0"),
  };
  const unchanged = (k: { pk: string; sk: string }, item: Item | undefined): TransactWriteItem => ({
    ConditionCheck: {
      TableName: ledgerTable,
      Key: key(k),
      ConditionExpression: item
        ? "amount = :amount AND (attribute_not_exists(#count) OR #count = :count)"
        : "attribute_not_exists(pk)",
      ...(item && {
        ExpressionAttributeNames: { "#count": "count" },
        ExpressionAttributeValues: { ":amount": item.amount!, ":count": item.count ?? N(0) },
      }),
    },
  });
  try {
    await db.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName: ledgerTable,
              Key: key(ledgerKeys.account(accountId)),
              UpdateExpression: "SET currencies.#cur.#sp = :spend",
              ConditionExpression:
                "attribute_exists(currencies.#cur) AND attribute_not_exists(currencies.#cur.#sp)",
              ExpressionAttributeNames: { "#cur": currencyCode, "#sp": "spend" },
              ExpressionAttributeValues: { ":spend": spendToAttribute(counters) },
            },
          },
          unchanged(dayKey, day),
          unchanged(monthKey, month),
        ],
      }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    // Folded by someone else first: done. An old item that moved: not yet.
    return error.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed";
  }
}
