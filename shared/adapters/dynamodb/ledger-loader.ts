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
  instrumentToItem,
  otpToItem,
  utnToItem,
} from "./items.ts";

/** Writes a ledger into the ledger table (Put: an existing account is replaced, balance included). */
export async function loadLedger(db: DynamoDBClient, ledgerTable: string, ledger: Ledger): Promise<number> {
  const items: Item[] = [
    ...ledger.accounts.map(accountToItem),
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
