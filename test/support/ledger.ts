import assert from "node:assert/strict";
import {
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { LocalStack } from "../../infra/local/stack.ts";
import { itemToAccount, key, ledgerKeys, S } from "../../shared/adapters/dynamodb/items.ts";
import { itemToRefund } from "../../shared/adapters/dynamodb/refund-store.ts";

/** Reads the ledger straight from DynamoDB, to assert what a capture did to it. */
export async function balance(stack: LocalStack, accountId: string, currency = "INR"): Promise<bigint> {
  return (await balances(stack, accountId))[currency]!;
}

export async function balances(stack: LocalStack, accountId: string): Promise<Record<string, bigint>> {
  const currencies = itemToAccount(await accountItem(stack, accountId)).currencies;
  return Object.fromEntries(Object.entries(currencies).map(([code, c]) => [code, c.balance]));
}

/** An account's item in the ledger table as stored (strongly consistent read). */
export async function accountItem(stack: Pick<LocalStack, "dynamodb" | "config">, accountId: string) {
  const out = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: stack.config.tables.ledger,
      Key: key(ledgerKeys.account(accountId)),
      ConsistentRead: true,
    }),
  );
  assert.ok(out.Item, `account ${accountId} is in the ledger`);
  return out.Item;
}

/** Every capture record in the stack's captures table (tests are small enough to scan). */
export async function captureRecords(db: DynamoDBClient, table: string) {
  const out = await db.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return out.Items ?? [];
}

/** Every refund record in a refunds table, read straight from DynamoDB (tests are small enough to scan). */
export async function refundRecords(db: DynamoDBClient, table: string) {
  return (await captureRecords(db, table)).map(itemToRefund);
}

/** Sets an account's status straight in the ledger table, as the bank does when it closes or freezes it. */
export async function setAccountStatus(
  stack: Pick<LocalStack, "dynamodb" | "config">,
  accountId: string,
  status: string,
): Promise<void> {
  await stack.dynamodb.send(
    new UpdateItemCommand({
      TableName: stack.config.tables.ledger,
      Key: key(ledgerKeys.account(accountId)),
      UpdateExpression: "SET #status = :status",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":status": S(status) },
    }),
  );
}
