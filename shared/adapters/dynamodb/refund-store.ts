import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import type { DueOptions, DuePage } from "../../domain/capture-service.ts";
import { refundMovedAt } from "../../domain/reconciliation.ts";
import type {
  Credit,
  RefundRecord,
  RefundSnapshot,
  RefundStore,
  RefundWriteOutcome,
} from "../../domain/refund-service.ts";
import { addRefunded, itemToRecord, worthDecidingAgain } from "./capture-store.ts";
import { type Item, itemToAccount, key, ledgerKeys, N, S } from "./items.ts";
import { creditAccount } from "./ledger-store.ts";
import {
  attributeToOwed,
  batchGetAll,
  duePage,
  enqueueDueAt,
  OwedNotificationStore,
  owedToAttribute,
  sweepMarker,
} from "./owed-notifications.ts";
import { settlementMarker } from "./statement-store.ts";

export interface RefundTables {
  ledger: string;
  captures: string;
  refunds: string;
}

/** Refund records: one read round trip and one transactional write per refund (a replay: the read alone). */
export class DynamoRefundStore extends OwedNotificationStore implements RefundStore {
  readonly #db: DynamoDBClient;
  readonly #tables: RefundTables;
  readonly #enqueueGraceMs: number;

  constructor(db: DynamoDBClient, tables: RefundTables, options: { enqueueGraceMs: number }) {
    super(db, tables.refunds);
    this.#db = db;
    this.#tables = tables;
    this.#enqueueGraceMs = options.enqueueGraceMs;
  }

  async read(refundKey: string, captureKey: string): Promise<RefundSnapshot> {
    const { refunds, captures } = this.#tables;
    const out = await batchGetAll(this.#db, {
      [refunds]: { Keys: [{ pk: S(refundKey) }], ConsistentRead: true },
      [captures]: { Keys: [{ pk: S(captureKey) }], ConsistentRead: true },
    });
    const refund = out[refunds]?.[0];
    const capture = out[captures]?.[0];
    return {
      refund: refund ? itemToRefund(refund) : undefined,
      capture: capture ? itemToRecord(capture) : undefined,
    };
  }

  async write(record: RefundRecord, credit: Credit | undefined): Promise<RefundWriteOutcome> {
    const put = {
      TableName: this.#tables.refunds,
      Item: this.#toItem(record),
      ConditionExpression: "attribute_not_exists(pk)",
      // A concurrent duplicate that lost gets the winner's record back: no second read.
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    };
    if (!credit) {
      try {
        await this.#db.send(new PutItemCommand(put));
        return { kind: "COMMITTED" };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return { kind: "KEY_TAKEN", record: error.Item ? itemToRefund(error.Item) : undefined };
      }
    }
    try {
      await this.#db.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: put },
            addRefunded(this.#tables.captures, credit),
            creditAccount(this.#tables.ledger, credit),
          ],
        }),
      );
      return { kind: "COMMITTED" };
    } catch (error) {
      const [onRefund, onCapture, onAccount] =
        error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      if (onRefund?.Code === "ConditionalCheckFailed") {
        return { kind: "KEY_TAKEN", record: onRefund.Item ? itemToRefund(onRefund.Item) : undefined };
      }
      if (onCapture?.Code === "ConditionalCheckFailed") return { kind: "STALE" };
      if (onAccount?.Code === "ConditionalCheckFailed") {
        return {
          kind: "ACCOUNT_REFUSED",
          account: onAccount.Item ? itemToAccount(onAccount.Item) : undefined,
        };
      }
      if (worthDecidingAgain(error)) return { kind: "STALE" };
      throw error;
    }
  }

  async get(refundKey: string): Promise<RefundRecord | undefined> {
    const out = await this.#db.send(
      new GetItemCommand({
        TableName: this.#tables.refunds,
        Key: { pk: S(refundKey) },
        ConsistentRead: true,
      }),
    );
    return out.Item ? itemToRefund(out.Item) : undefined;
  }

  async readAccount(accountId: string) {
    const out = await this.#db.send(
      new GetItemCommand({
        TableName: this.#tables.ledger,
        Key: key(ledgerKeys.account(accountId)),
        ConsistentRead: true,
      }),
    );
    return out.Item ? itemToAccount(out.Item) : undefined;
  }

  /** Refunds whose notification nobody is known to have enqueued, found through the sparse sweep index. */
  async due(nowMs: number, options: DueOptions = {}): Promise<DuePage<RefundRecord>> {
    const page = await duePage(this.#db, this.#tables.refunds, nowMs, options);
    return { ...page, records: page.records.map(itemToRefund).filter((r) => this.#sweepAt(r) !== undefined) };
  }

  #sweepAt = (r: RefundRecord) => enqueueDueAt(r.notification, this.#enqueueGraceMs);

  /** The record, with the sweep marker while its notification is owed and not yet known to be enqueued. */
  #toItem(r: RefundRecord): Item {
    const at = this.#sweepAt(r);
    return { ...refundToItem(r), ...(at !== undefined && sweepMarker(r.key, at)) };
  }
}

export function refundToItem(r: RefundRecord): Item {
  return {
    ...settlementMarker(r.paymentIntegratorAccountId, refundMovedAt(r)),
    pk: S(r.key),
    paymentIntegratorAccountId: S(r.paymentIntegratorAccountId),
    requestId: S(r.requestId),
    fingerprint: S(r.fingerprint),
    paymentIntegratorRefundId: S(r.paymentIntegratorRefundId),
    captureRequestId: S(r.captureRequestId),
    captureKey: S(r.captureKey),
    result: S(r.response.result),
    response: S(JSON.stringify(r.response)),
    amount: N(r.amount),
    currencyCode: S(r.currencyCode),
    accountId: S(r.accountId),
    createdAtMs: N(r.createdAtMs),
    ...(r.notification && { notification: owedToAttribute(r.notification) }),
  };
}

export function itemToRefund(item: Item): RefundRecord {
  return {
    key: item.pk!.S!,
    paymentIntegratorAccountId: item.paymentIntegratorAccountId!.S!,
    requestId: item.requestId!.S!,
    fingerprint: item.fingerprint!.S!,
    paymentIntegratorRefundId: item.paymentIntegratorRefundId!.S!,
    captureRequestId: item.captureRequestId!.S!,
    captureKey: item.captureKey!.S!,
    response: JSON.parse(item.response!.S!),
    amount: BigInt(item.amount!.N!),
    currencyCode: item.currencyCode!.S!,
    accountId: item.accountId!.S!,
    createdAtMs: Number(item.createdAtMs!.N!),
    ...(item.notification?.M && { notification: attributeToOwed(item.notification.M) }),
  };
}
