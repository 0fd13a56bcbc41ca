import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  type DynamoDBClient,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import type { Ledger } from "../../ledger-fixture.ts";
import {
  accountToItem,
  authenticationToItem,
  type Item,
  instrumentCopies,
  instrumentToItem,
  otpToItem,
  utnToItem,
} from "./items.ts";

/**
 * Writes a ledger into the ledger table (Put: an existing account is replaced, balance included). Each
 * account item carries the copies of its instruments' status (items.ts, instrumentCopies), so every
 * instrument is loaded with its account: parseLedgerFixture refuses an instrument whose account is not in
 * the ledger, and so does this.
 */
export async function loadLedger(db: DynamoDBClient, ledgerTable: string, ledger: Ledger): Promise<number> {
  const loadedAccounts = new Set(ledger.accounts.map((a) => a.accountId));
  const dangling = ledger.instruments.find((i) => !loadedAccounts.has(i.accountId));
  if (dangling) throw new Error(`ledger: an instrument of account ${dangling.accountId}, not in this ledger`);
  const items: Item[] = [
    ...ledger.accounts.map((a) => ({
      ...accountToItem(a),
      ...instrumentCopies(ledger.instruments.filter((i) => i.accountId === a.accountId)),
    })),
    ...ledger.instruments.map(instrumentToItem),
    ...ledger.upcomingTransactionNotifications.map(utnToItem),
    ...ledger.otps.map(otpToItem),
    ...ledger.authenticationRequests.map(authenticationToItem),
  ];
  for (let i = 0; i < items.length; i += 25) {
    let pending: WriteRequest[] | undefined = items
      .slice(i, i + 25)
      .map((Item) => ({ PutRequest: { Item } }));
    while (pending && pending.length > 0) {
      const out: BatchWriteItemCommandOutput = await db.send(
        new BatchWriteItemCommand({ RequestItems: { [ledgerTable]: pending } }),
      );
      pending = out.UnprocessedItems?.[ledgerTable];
    }
  }
  return items.length;
}
