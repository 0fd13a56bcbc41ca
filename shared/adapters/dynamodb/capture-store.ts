import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { type CaptureFacts, MAX_OTP_ATTEMPTS } from "../../domain/capture-decision.ts";
import type { CaptureRecord, NotificationRecord } from "../../domain/capture-record.ts";
import type {
  CaptureSnapshot,
  CaptureStore,
  CaptureWriteOutcome,
  Debit,
  DecideOutcome,
  DueOptions,
  DuePage,
  OtpUse,
} from "../../domain/capture-service.ts";
import { spendIn } from "../../domain/ledger.ts";
import type { Periods } from "../../domain/periods.ts";
import { captureMovedAt } from "../../domain/reconciliation.ts";
import type { CaptureRequest } from "../../protocol/capture.ts";
import {
  type Item,
  instrumentFromCopy,
  itemToAccount,
  itemToAuthentication,
  itemToInstrument,
  itemToOtp,
  itemToUtn,
  key,
  ledgerKeys,
  N,
  S,
} from "./items.ts";
import { copyInstrumentStatus, debitAccount, foldLegacySpend } from "./ledger-store.ts";
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

export interface CaptureTables {
  ledger: string;
  captures: string;
}

type ItemKey = { pk: string; sk: string };

/** An outcome whose notification is not enqueued this long after it was recorded is the sweeper's to enqueue. */
export const DEFAULT_ENQUEUE_GRACE_MS = 30_000;

/**
 * Which account an instrument belongs to never changes once bound, so a warm process remembers it and
 * reads only the account, which holds a copy of the instrument's status (items.ts, instrumentCopyName),
 * in the same round trip as the capture record: 2 keys, not 3.
 */
class AccountOfInstrument {
  readonly #map = new Map<string, string>();
  readonly #capacity: number;
  constructor(capacity = 50_000) {
    this.#capacity = capacity;
  }
  get(instrumentPk: string) {
    return this.#map.get(instrumentPk);
  }
  set(instrumentPk: string, accountId: string) {
    if (this.#map.size >= this.#capacity) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(instrumentPk, accountId);
  }
}

export class DynamoCaptureStore extends OwedNotificationStore implements CaptureStore {
  readonly #accounts = new AccountOfInstrument();
  readonly #db: DynamoDBClient;
  readonly #tables: CaptureTables;
  readonly #sweepAttributes: (r: CaptureRecord) => ReturnType<typeof sweepAttributes>;

  constructor(db: DynamoDBClient, tables: CaptureTables, options: { enqueueGraceMs?: number } = {}) {
    super(db, tables.captures);
    this.#db = db;
    this.#tables = tables;
    const grace = options.enqueueGraceMs ?? DEFAULT_ENQUEUE_GRACE_MS;
    this.#sweepAttributes = (r) => sweepAttributes(r, grace);
  }

  async read(captureKey: string, request: CaptureRequest, periods: Periods): Promise<CaptureSnapshot> {
    const fop = request.fop;
    const instrumentKey = ledgerKeys.instrument(fop);
    // A known instrument: its account (which holds its status). A new one: the instrument item, to learn its account.
    const knownAccount = this.#accounts.get(instrumentKey.pk);
    const toRead: ItemKey[] = [knownAccount ? ledgerKeys.account(knownAccount) : instrumentKey];
    if (fop.kind === "MANDATE_WITH_NOTIFICATION")
      toRead.push(ledgerKeys.utn(fop.upcomingTransactionNotificationId));
    const v = request.verification;
    if (v.kind === "OTP") toRead.push(ledgerKeys.otp(v.sendOtpRequestId));
    if (v.kind === "AUTHENTICATION") toRead.push(ledgerKeys.authentication(v.authenticationRequestId));

    const items = await this.#batchGet(toRead, captureKey);
    if (items.capture) return { record: itemToRecord(items.capture), facts: emptyFacts() };

    const get = (k: ItemKey) => items.ledger.get(k.pk + k.sk);
    const rawIdentifier =
      fop.kind === "TOKEN" ? fop.googlePaymentToken : fop.kind === "VPA" ? fop.vpa : undefined;
    const facts = await this.#factsFor(
      instrumentKey,
      rawIdentifier,
      request.currencyCode,
      periods,
      knownAccount
        ? { accountItem: get(ledgerKeys.account(knownAccount)) }
        : { instrumentItem: get(instrumentKey) },
    );
    if (fop.kind === "MANDATE_WITH_NOTIFICATION") {
      const utn = get(ledgerKeys.utn(fop.upcomingTransactionNotificationId));
      facts.upcomingTransactionNotification = utn ? itemToUtn(utn) : undefined;
    }
    if (v.kind === "OTP") {
      const otp = get(ledgerKeys.otp(v.sendOtpRequestId));
      facts.otp = otp ? itemToOtp(otp) : undefined;
    }
    if (v.kind === "AUTHENTICATION") {
      const auth = get(ledgerKeys.authentication(v.authenticationRequestId));
      facts.authenticationRequest = auth ? itemToAuthentication(auth) : undefined;
    }
    return { record: undefined, facts };
  }

  async readFacts(record: CaptureRecord, periods: Periods): Promise<CaptureFacts> {
    const accountKey = ledgerKeys.account(record.accountId);
    const accountItem = await this.#getLedgerItem(accountKey);
    return this.#factsFor(
      { pk: record.instrumentRef, sk: "INSTRUMENT" },
      undefined,
      record.currencyCode,
      periods,
      {
        accountItem,
      },
    );
  }

  /**
   * Instrument, account and spend, all from the account item: its copy of the instrument's status (so status,
   * balance, counters and configuration version are read together, atomically). Further reads only when
   * `read` lacks them: the instrument item when the account is not known or holds no copy of its status (the
   * earlier layout, copied once here), the account when only the instrument was read, and once per account
   * currency of the earlier layout, to fold its spend items into the account.
   */
  async #factsFor(
    instrumentKey: ItemKey,
    rawIdentifier: string | undefined,
    currency: string,
    periods: Periods,
    read: { accountItem?: Item | undefined; instrumentItem?: Item | undefined },
  ): Promise<CaptureFacts> {
    const facts = emptyFacts();
    let accountItem = read.accountItem;
    for (let copy = 0; !accountItem || !instrumentFromCopy(accountItem, instrumentKey.pk); copy++) {
      if (copy === 3)
        throw new Error(`account ${accountItem?.accountId?.S}: an instrument's status is still moving`);
      const instrumentItem =
        copy === 0 && "instrumentItem" in read
          ? read.instrumentItem
          : await this.#getLedgerItem(instrumentKey);
      if (!instrumentItem) return facts;
      const bound = itemToInstrument(instrumentItem, rawIdentifier);
      this.#accounts.set(instrumentKey.pk, bound.accountId);
      const accountKey = ledgerKeys.account(bound.accountId);
      if (accountItem?.accountId?.S !== bound.accountId) accountItem = await this.#getLedgerItem(accountKey);
      if (!accountItem) {
        // Bound to an account that does not exist: the decision declines it.
        facts.instrument = bound;
        facts.instrumentRef = instrumentKey.pk;
        return facts;
      }
      if (instrumentFromCopy(accountItem, instrumentKey.pk)) break;
      await copyInstrumentStatus(this.#db, this.#tables.ledger, bound);
      accountItem = await this.#getLedgerItem(accountKey);
    }
    const accountId = accountItem.accountId!.S!;
    const accountKey = ledgerKeys.account(accountId);
    for (let fold = 0; accountItem && needsFold(accountItem, currency); fold++) {
      if (fold === 3) throw new Error(`account ${accountId}: spend of the earlier layout is still moving`);
      await foldLegacySpend(
        this.#db,
        this.#tables.ledger,
        accountId,
        currency,
        periods,
        async (keys) => (await this.#batchGet(keys)).ledger,
      );
      accountItem = await this.#getLedgerItem(accountKey);
    }
    if (!accountItem) return facts;
    facts.instrument = instrumentFromCopy(accountItem, instrumentKey.pk, rawIdentifier);
    facts.instrumentRef = instrumentKey.pk;
    facts.account = itemToAccount(accountItem);
    const counters = facts.account.currencies[currency]?.spend;
    if (counters) facts.spend = spendIn(counters, periods);
    return facts;
  }

  async #getLedgerItem(k: ItemKey): Promise<Item | undefined> {
    return (await this.#batchGet([k])).ledger.get(k.pk + k.sk);
  }

  async write(
    record: CaptureRecord,
    debit: Debit | undefined,
    otpToConsume: OtpUse | undefined,
  ): Promise<CaptureWriteOutcome> {
    const put = {
      TableName: this.#tables.captures,
      Item: { ...recordToItem(record), ...this.#sweepAttributes(record) },
      ConditionExpression: "attribute_not_exists(pk)",
      // A concurrent duplicate that lost gets the winner's record back: no second read.
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    };
    // A record alone (a decline, a PENDING capture) is one conditional Put: 1 WRU, not a transaction's 2.
    if (!debit && !otpToConsume) {
      try {
        await this.#db.send(new PutItemCommand(put));
        return { kind: "COMMITTED" };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return { kind: "KEY_TAKEN", record: error.Item ? itemToRecord(error.Item) : undefined };
      }
    }
    const items: TransactWriteItem[] = [{ Put: put }];
    // A matched OTP is spent whatever the result; a concurrent use of it makes this write stale.
    if (otpToConsume) items.push(this.#consumeOtp(otpToConsume));
    if (debit) items.push(this.#debit(debit));
    try {
      await this.#db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return { kind: "COMMITTED" };
    } catch (error) {
      const onRecord =
        error instanceof TransactionCanceledException ? error.CancellationReasons?.[0] : undefined;
      if (onRecord?.Code === "ConditionalCheckFailed") {
        return { kind: "KEY_TAKEN", record: onRecord.Item ? itemToRecord(onRecord.Item) : undefined };
      }
      if (worthDecidingAgain(error)) return { kind: "STALE" };
      throw error;
    }
  }

  async get(captureKey: string): Promise<CaptureRecord | undefined> {
    const out = await this.#db.send(
      new GetItemCommand({
        TableName: this.#tables.captures,
        Key: { pk: S(captureKey) },
        ConsistentRead: true,
      }),
    );
    return out.Item ? itemToRecord(out.Item) : undefined;
  }

  async decide(decided: CaptureRecord, debit: Debit | undefined, nowMs: number): Promise<DecideOutcome> {
    const expiring = decided.outcome?.kind === "EXPIRED";
    const sweep = this.#sweepAttributes(decided);
    const names: Record<string, string> = { "#state": "state" };
    const values: Item = {
      ":pending": S("PENDING"),
      ":decided": S("DECIDED"),
      ":now": N(nowMs),
      ":outcome": S(JSON.stringify(decided.outcome)),
      ":notification": notificationToAttribute(decided.notification!),
    };
    let update = "SET #state = :decided, outcome = :outcome, notification = :notification";
    const settle = settlementAttributes(decided);
    if (settle) {
      update += ", settleDay = :settleDay, settleAt = :settleAt";
      values[":settleDay"] = settle.settleDay;
      values[":settleAt"] = settle.settleAt;
    }
    if (sweep) {
      update += ", sweepShard = :shard, sweepAt = :at";
      values[":shard"] = sweep.sweepShard;
      values[":at"] = sweep.sweepAt;
    }
    const onRecord = {
      TableName: this.#tables.captures,
      Key: { pk: S(decided.key) },
      UpdateExpression: update,
      // Once decided, immutable: only a PENDING capture moves, and an outcome only before its deadline.
      ConditionExpression: `#state = :pending AND deadlineMs ${expiring ? "<=" : ">"} :now`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    // An outcome that moves no money is one conditional Update of the record: 1 WRU, not a transaction's 2.
    if (!debit) {
      try {
        await this.#db.send(new UpdateItemCommand(onRecord));
        return "COMMITTED";
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return "NOT_PENDING";
        throw error;
      }
    }
    const items: TransactWriteItem[] = [{ Update: onRecord }, this.#debit(debit)];
    try {
      await this.#db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return "COMMITTED";
    } catch (error) {
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed"
      ) {
        return "NOT_PENDING";
      }
      if (worthDecidingAgain(error)) return "STALE";
      throw error;
    }
  }

  async due(nowMs: number, options: DueOptions = {}): Promise<DuePage> {
    const page = await duePage(this.#db, this.#tables.captures, nowMs, options);
    return {
      ...page,
      records: page.records.map(itemToRecord).filter((r) => this.#sweepAttributes(r) !== undefined),
    };
  }

  /** Spends a matched OTP or counts a wrong try, only while it is unspent with tries left (and, to spend it, unexpired). */
  #consumeOtp({ sendOtpRequestId, matched, nowMs }: OtpUse): TransactWriteItem {
    const live = "used = :false AND (attribute_not_exists(attempts) OR attempts < :max)";
    const values = { ":false": { BOOL: false }, ":max": N(MAX_OTP_ATTEMPTS) };
    return {
      Update: {
        TableName: this.#tables.ledger,
        Key: key(ledgerKeys.otp(sendOtpRequestId)),
        ...(matched
          ? {
              UpdateExpression: "SET used = :true",
              ConditionExpression: `${live} AND (attribute_not_exists(expiresAtMs) OR expiresAtMs > :now)`,
              ExpressionAttributeValues: { ...values, ":true": { BOOL: true }, ":now": N(nowMs) },
            }
          : {
              UpdateExpression: "ADD attempts :one",
              ConditionExpression: live,
              ExpressionAttributeValues: { ...values, ":one": N(1) },
            }),
      },
    };
  }

  /** The account debit (ledger-store.ts) of a SUCCESS: balance and spend counters on the one account item. */
  #debit({ request, facts, periods }: Debit): TransactWriteItem {
    return debitAccount(this.#tables.ledger, {
      account: facts.account!,
      currencyCode: request.currencyCode,
      amount: request.amount,
      periods,
    });
  }

  /** The ledger items and the capture record a decision reads, in one BatchGetItem. */
  async #batchGet(ledgerItemKeys: ItemKey[], captureKey?: string) {
    const out = await batchGetAll(this.#db, {
      [this.#tables.ledger]: { Keys: dedupe(ledgerItemKeys).map(key), ConsistentRead: true },
      ...(captureKey && { [this.#tables.captures]: { Keys: [{ pk: S(captureKey) }], ConsistentRead: true } }),
    });
    const ledger = new Map<string, Item>();
    for (const item of out[this.#tables.ledger] ?? []) ledger.set(item.pk!.S! + item.sk!.S!, item);
    return { ledger, capture: out[this.#tables.captures]?.[0] };
  }
}

/** Cancellations worth deciding again: a concurrent writer, a fact that changed, throttling. Anything else (a
 * ValidationError such as an item over 400 KB) would fail again the same way, so it is thrown, not retried. */
const RETRYABLE = new Set([
  "ConditionalCheckFailed",
  "TransactionConflict",
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
  "None",
]);

/**
 * A failed money transaction (captures, outcomes, refunds) that is worth deciding again on a fresh read:
 * a concurrent transaction on one of its items, or a cancellation whose every reason is in RETRYABLE.
 */
export const worthDecidingAgain = (error: unknown): boolean =>
  (error as Error).name === "TransactionConflictException" ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).every((r) => r.Code === undefined || RETRYABLE.has(r.Code)));

/** An account currency still in the earlier layout: its spend counters are in items of their own. */
const needsFold = (accountItem: Item, currency: string) => {
  const c = accountItem.currencies?.M?.[currency]?.M;
  return c !== undefined && c.spend === undefined;
};

const dedupe = (keys: ItemKey[]) => [...new Map(keys.map((k) => [k.pk + k.sk, k])).values()];

const emptyFacts = (): CaptureFacts => ({
  instrument: undefined,
  account: undefined,
  spend: { day: 0n, month: 0n, monthCount: 0 },
  upcomingTransactionNotification: undefined,
  otp: undefined,
  authenticationRequest: undefined,
});

/** The sparse index attributes a record carries while the sweeper must look at it, else undefined. */
function sweepAttributes(
  r: CaptureRecord,
  enqueueGraceMs: number,
): { sweepShard: AttributeValue; sweepAt: AttributeValue } | undefined {
  const at = r.state === "PENDING" ? r.deadlineMs : enqueueDueAt(r.notification, enqueueGraceMs);
  return at === undefined ? undefined : sweepMarker(r.key, at);
}

const notificationToAttribute = (n: NotificationRecord): AttributeValue =>
  owedToAttribute(n, { captureResult: S(JSON.stringify(n.captureResult)) });

function attributeToNotification(av: AttributeValue | undefined): NotificationRecord | undefined {
  const m = av?.M;
  return m && { ...attributeToOwed(m), captureResult: JSON.parse(m.captureResult!.S!) };
}

/**
 * A refund's share of the capture record: its refunded total grows by the refund, only while the
 * refunds so far leave room for it (Σ refunds never exceeds the captured amount, under any concurrency).
 */
export function addRefunded(
  capturesTable: string,
  r: { captureKey: string; amount: bigint; capturedAmount: bigint },
): TransactWriteItem {
  return {
    Update: {
      TableName: capturesTable,
      Key: { pk: S(r.captureKey) },
      UpdateExpression: "SET refundedAmount = if_not_exists(refundedAmount, :zero) + :amount",
      ConditionExpression:
        "attribute_exists(pk) AND (attribute_not_exists(refundedAmount) OR refundedAmount <= :room)",
      ExpressionAttributeValues: {
        ":zero": N(0),
        ":amount": N(r.amount),
        ":room": N(r.capturedAmount - r.amount),
      },
    },
  };
}

/** The sparse settlement index's attributes, on a capture that moved money. */
const settlementAttributes = (r: CaptureRecord) =>
  settlementMarker(r.paymentIntegratorAccountId, captureMovedAt(r));

export function recordToItem(r: CaptureRecord): Item {
  return {
    ...settlementAttributes(r),
    pk: S(r.key),
    paymentIntegratorAccountId: S(r.paymentIntegratorAccountId),
    requestId: S(r.requestId),
    method: S(r.method),
    fingerprint: S(r.fingerprint),
    paymentIntegratorTransactionId: S(r.paymentIntegratorTransactionId),
    result: S(r.response.result),
    response: S(JSON.stringify(r.response)),
    state: S(r.state),
    amount: N(r.amount),
    currencyCode: S(r.currencyCode),
    transactionDescription: S(r.transactionDescription),
    accountId: S(r.accountId),
    instrumentKind: S(r.instrumentKind),
    instrumentRef: S(r.instrumentRef),
    createdAtMs: N(r.createdAtMs),
    ...(r.deadlineMs !== undefined && { deadlineMs: N(r.deadlineMs) }),
    ...(r.outcome && { outcome: S(JSON.stringify(r.outcome)) }),
    ...(r.notification && { notification: notificationToAttribute(r.notification) }),
    ...(r.refundedAmount !== undefined && { refundedAmount: N(r.refundedAmount) }),
  };
}

export function itemToRecord(item: Item): CaptureRecord {
  const notification = attributeToNotification(item.notification);
  return {
    key: item.pk!.S!,
    paymentIntegratorAccountId: item.paymentIntegratorAccountId!.S!,
    requestId: item.requestId!.S!,
    method: (item.method?.S ?? "capture") as CaptureRecord["method"],
    fingerprint: item.fingerprint!.S!,
    paymentIntegratorTransactionId: item.paymentIntegratorTransactionId!.S!,
    response: JSON.parse(item.response!.S!),
    state: (item.state?.S ?? "DECIDED") as CaptureRecord["state"],
    amount: BigInt(item.amount!.N!),
    currencyCode: item.currencyCode!.S!,
    transactionDescription: item.transactionDescription?.S ?? "",
    accountId: item.accountId!.S!,
    instrumentKind: item.instrumentKind!.S! as CaptureRecord["instrumentKind"],
    instrumentRef: item.instrumentRef?.S ?? "",
    createdAtMs: Number(item.createdAtMs!.N!),
    ...(item.deadlineMs?.N !== undefined && { deadlineMs: Number(item.deadlineMs.N) }),
    ...(item.outcome?.S !== undefined && { outcome: JSON.parse(item.outcome.S) }),
    ...(notification && { notification }),
    ...(item.refundedAmount?.N !== undefined && { refundedAmount: BigInt(item.refundedAmount.N) }),
  };
}
