import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import type { Ledger } from "../../ledger-fixture.ts";
import {
  accountToItem,
  authenticationToItem,
  type Item,
  instrumentCopies,
  instrumentCopy,
  instrumentCopyName,
  instrumentToItem,
  key,
  ledgerKeys,
  N,
  otpToItem,
  utnToItem,
} from "./items.ts";

/**
 * Writes a ledger into the ledger table (Put: an existing account is replaced, balance included). Each
 * account item carries the copies of its instruments' status (items.ts, instrumentCopies); an instrument
 * whose account is not in this ledger has its copy set on the stored account, which bumps its configuration
 * version as setInstrumentStatus does.
 */
export async function loadLedger(db: DynamoDBClient, ledgerTable: string, ledger: Ledger): Promise<number> {
  const loadedAccounts = new Set(ledger.accounts.map((a) => a.accountId));
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
  for (const instrument of ledger.instruments.filter((i) => !loadedAccounts.has(i.accountId))) {
    try {
      await db.send(
        new UpdateItemCommand({
          TableName: ledgerTable,
          Key: key(ledgerKeys.account(instrument.accountId)),
          UpdateExpression: "SET #copy = :copy ADD configVersion :one",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#copy": instrumentCopyName(ledgerKeys.instrument(instrument).pk) },
          ExpressionAttributeValues: { ":copy": instrumentCopy(instrument), ":one": N(1) },
        }),
      );
    } catch (error) {
      // An account not stored (yet): nothing to copy onto. Stored later, it gets the copy on first use.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
  return items.length;
}
