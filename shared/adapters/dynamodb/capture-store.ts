import {
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import type { CaptureDecision, CaptureFacts } from "../../domain/capture-decision.ts";
import type {
  CaptureRecord,
  CaptureSnapshot,
  CaptureStore,
  CaptureWriteOutcome,
} from "../../domain/capture-service.ts";
import type { PeriodSpend } from "../../domain/ledger.ts";
import type { Periods } from "../../domain/periods.ts";
import type { CaptureRequest, CaptureResult } from "../../protocol/capture.ts";
import {
  type Item,
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

export interface CaptureTables {
  ledger: string;
  captures: string;
}

/**
 * Which account an instrument belongs to never changes once bound, so a warm process remembers it
 * and reads the account in the same round trip as the instrument (checked against the instrument
 * it reads; a mismatch falls back to a second read).
 */
class AccountOfInstrument {
  readonly #map = new Map<string, string>();
  readonly capacity: number;
  constructor(capacity = 50_000) {
    this.capacity = capacity;
  }
  get(instrumentPk: string) {
    return this.#map.get(instrumentPk);
  }
  set(instrumentPk: string, accountId: string) {
    if (this.#map.size >= this.capacity) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(instrumentPk, accountId);
  }
}

export class DynamoCaptureStore implements CaptureStore {
  readonly #accounts = new AccountOfInstrument();
  readonly #db: DynamoDBClient;
  readonly #tables: CaptureTables;

  constructor(db: DynamoDBClient, tables: CaptureTables) {
    this.#db = db;
    this.#tables = tables;
  }

  async read(captureKey: string, request: CaptureRequest, periods: Periods): Promise<CaptureSnapshot> {
    const fop = request.fop;
    const instrumentKey =
      fop.kind === "TOKEN" ? ledgerKeys.token(fop.googlePaymentToken) : ledgerKeys.mandate(fop.mandateId);
    const ledgerKeysToRead = [instrumentKey];
    if (fop.kind === "MANDATE_WITH_NOTIFICATION")
      ledgerKeysToRead.push(ledgerKeys.utn(fop.upcomingTransactionNotificationId));
    const v = request.verification;
    if (v.kind === "OTP") ledgerKeysToRead.push(ledgerKeys.otp(v.sendOtpRequestId));
    if (v.kind === "AUTHENTICATION")
      ledgerKeysToRead.push(ledgerKeys.authentication(v.authenticationRequestId));
    const guessedAccount = this.#accounts.get(instrumentKey.pk);
    if (guessedAccount) ledgerKeysToRead.push(...accountKeys(guessedAccount, request.currencyCode, periods));

    const items = await this.#batchGet(ledgerKeysToRead, captureKey);
    const record = items.capture ? itemToRecord(items.capture) : undefined;
    if (record) return { record, facts: emptyFacts() };

    const instrumentItem = items.ledger.get(instrumentKey.pk + instrumentKey.sk);
    const instrument = instrumentItem
      ? itemToInstrument(instrumentItem, fop.kind === "TOKEN" ? fop.googlePaymentToken : undefined)
      : undefined;
    let accountItems = items.ledger;
    if (instrument) {
      this.#accounts.set(instrumentKey.pk, instrument.accountId);
      if (instrument.accountId !== guessedAccount) {
        accountItems = (
          await this.#batchGet(accountKeys(instrument.accountId, request.currencyCode, periods))
        ).ledger;
      }
    }
    const get = (k: { pk: string; sk: string }) => items.ledger.get(k.pk + k.sk);
    const facts: CaptureFacts = {
      instrument,
      account: undefined,
      spend: { day: 0n, month: 0n, monthCount: 0 },
      upcomingTransactionNotification: undefined,
      otp: undefined,
      authenticationRequest: undefined,
    };
    if (instrument) {
      const [acc, day, month] = accountKeys(instrument.accountId, request.currencyCode, periods);
      const accountItem = accountItems.get(acc.pk + acc.sk);
      facts.account = accountItem ? itemToAccount(accountItem) : undefined;
      facts.spend = spendOf(accountItems.get(day.pk + day.sk), accountItems.get(month.pk + month.sk));
    }
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

  async write(
    record: CaptureRecord,
    decision: CaptureDecision,
    request: CaptureRequest,
    facts: CaptureFacts,
    periods: Periods,
  ): Promise<CaptureWriteOutcome> {
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.#tables.captures,
          Item: recordToItem(record),
          ConditionExpression: "attribute_not_exists(pk)",
          // A concurrent duplicate that lost gets the winner's record back: no second read.
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
      },
    ];
    if (decision.consumeOtp && request.verification.kind === "OTP") {
      items.push({
        Update: {
          TableName: this.#tables.ledger,
          Key: key(ledgerKeys.otp(request.verification.sendOtpRequestId)),
          UpdateExpression: "SET used = :true",
          ConditionExpression: "used = :false",
          ExpressionAttributeValues: { ":true": { BOOL: true }, ":false": { BOOL: false } },
        },
      });
    }
    if (decision.result === "SUCCESS") items.push(...this.#debit(request, facts, periods));
    try {
      await this.#db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return { kind: "COMMITTED" };
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        const onRecord = error.CancellationReasons?.[0];
        if (onRecord?.Code === "ConditionalCheckFailed") {
          return { kind: "KEY_TAKEN", record: onRecord.Item ? itemToRecord(onRecord.Item) : undefined };
        }
        return { kind: "STALE" };
      }
      if ((error as Error).name === "TransactionConflictException") return { kind: "STALE" };
      throw error;
    }
  }

  /**
   * The debit and the limit counters, each guarded by the facts the decision relied on, so a
   * concurrent change makes the whole transaction fail instead of overdrawing or overspending.
   */
  #debit(request: CaptureRequest, facts: CaptureFacts, periods: Periods): TransactWriteItem[] {
    const account = facts.account!;
    const limits = account.currencies[request.currencyCode]!.limits;
    const amount = request.amount;
    const instrument = facts.instrument!;
    const [accountKey, dayKey, monthKey] = accountKeys(account.accountId, request.currencyCode, periods);
    const dayCondition =
      limits.dailyMax === undefined ? undefined : "attribute_not_exists(amount) OR amount <= :room";
    const monthConditions = [
      limits.monthlyMax === undefined ? undefined : "(attribute_not_exists(amount) OR amount <= :room)",
      limits.monthlyCountMax === undefined
        ? undefined
        : "(attribute_not_exists(#count) OR #count < :maxCount)",
    ].filter(Boolean);
    return [
      {
        Update: {
          TableName: this.#tables.ledger,
          Key: key(accountKey),
          UpdateExpression: "SET currencies.#cur.balance = currencies.#cur.balance - :amount",
          ConditionExpression:
            "#status = :active AND fundingSource = :available AND configVersion = :version AND currencies.#cur.balance >= :amount",
          ExpressionAttributeNames: { "#cur": request.currencyCode, "#status": "status" },
          ExpressionAttributeValues: {
            ":amount": N(amount),
            ":active": S("ACTIVE"),
            ":available": S("AVAILABLE"),
            ":version": N(account.configVersion),
          },
        },
      },
      {
        Update: {
          TableName: this.#tables.ledger,
          Key: key(dayKey),
          UpdateExpression: "ADD amount :amount",
          ...(dayCondition && { ConditionExpression: dayCondition }),
          ExpressionAttributeValues: {
            ":amount": N(amount),
            ...(limits.dailyMax !== undefined && { ":room": N(limits.dailyMax - amount) }),
          },
        },
      },
      {
        Update: {
          TableName: this.#tables.ledger,
          Key: key(monthKey),
          UpdateExpression: "ADD amount :amount, #count :one",
          ...(monthConditions.length > 0 && { ConditionExpression: monthConditions.join(" AND ") }),
          ExpressionAttributeNames: { "#count": "count" },
          ExpressionAttributeValues: {
            ":amount": N(amount),
            ":one": N(1),
            ...(limits.monthlyMax !== undefined && { ":room": N(limits.monthlyMax - amount) }),
            ...(limits.monthlyCountMax !== undefined && { ":maxCount": N(limits.monthlyCountMax) }),
          },
        },
      },
      {
        ConditionCheck: {
          TableName: this.#tables.ledger,
          Key: key(
            instrument.kind === "TOKEN"
              ? ledgerKeys.token(instrument.googlePaymentToken)
              : ledgerKeys.mandate(instrument.mandateId),
          ),
          ConditionExpression: "#status = :active",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":active": S("ACTIVE") },
        },
      },
    ];
  }

  /** One BatchGetItem (plus retries of unprocessed keys, which only throttling produces). */
  async #batchGet(ledgerItemKeys: { pk: string; sk: string }[], captureKey?: string) {
    let request: BatchGetItemCommandInput["RequestItems"] = {
      [this.#tables.ledger]: { Keys: dedupe(ledgerItemKeys).map(key), ConsistentRead: true },
      ...(captureKey && { [this.#tables.captures]: { Keys: [{ pk: S(captureKey) }], ConsistentRead: true } }),
    };
    const ledger = new Map<string, Item>();
    let capture: Item | undefined;
    while (request && Object.keys(request).length > 0) {
      const out: BatchGetItemCommandOutput = await this.#db.send(
        new BatchGetItemCommand({ RequestItems: request }),
      );
      for (const item of out.Responses?.[this.#tables.ledger] ?? [])
        ledger.set(item.pk!.S! + item.sk!.S!, item);
      capture ??= out.Responses?.[this.#tables.captures]?.[0];
      request = out.UnprocessedKeys;
    }
    return { ledger, capture };
  }
}

type ItemKey = { pk: string; sk: string };
const accountKeys = (accountId: string, currency: string, periods: Periods): [ItemKey, ItemKey, ItemKey] => [
  ledgerKeys.account(accountId),
  ledgerKeys.daySpend(accountId, currency, periods.day),
  ledgerKeys.monthSpend(accountId, currency, periods.month),
];

const dedupe = (keys: { pk: string; sk: string }[]) => [
  ...new Map(keys.map((k) => [k.pk + k.sk, k])).values(),
];

const emptyFacts = (): CaptureFacts => ({
  instrument: undefined,
  account: undefined,
  spend: { day: 0n, month: 0n, monthCount: 0 },
  upcomingTransactionNotification: undefined,
  otp: undefined,
  authenticationRequest: undefined,
});

const spendOf = (day: Item | undefined, month: Item | undefined): PeriodSpend => ({
  day: BigInt(day?.amount?.N ?? "0"),
  month: BigInt(month?.amount?.N ?? "0"),
  monthCount: Number(month?.count?.N ?? "0"),
});

export function recordToItem(r: CaptureRecord): Item {
  return {
    pk: S(r.key),
    paymentIntegratorAccountId: S(r.paymentIntegratorAccountId),
    requestId: S(r.requestId),
    fingerprint: S(r.fingerprint),
    paymentIntegratorTransactionId: S(r.paymentIntegratorTransactionId),
    result: S(r.result.result),
    response: S(JSON.stringify(r.result)),
    amount: N(r.amount),
    currencyCode: S(r.currencyCode),
    transactionDescription: S(r.transactionDescription),
    accountId: S(r.accountId),
    instrumentKind: S(r.instrumentKind),
    createdAtMs: N(r.createdAtMs),
  };
}

export function itemToRecord(item: Item): CaptureRecord {
  return {
    key: item.pk!.S!,
    paymentIntegratorAccountId: item.paymentIntegratorAccountId!.S!,
    requestId: item.requestId!.S!,
    fingerprint: item.fingerprint!.S!,
    paymentIntegratorTransactionId: item.paymentIntegratorTransactionId!.S!,
    result: JSON.parse(item.response!.S!) as CaptureResult,
    amount: BigInt(item.amount!.N!),
    currencyCode: item.currencyCode!.S!,
    transactionDescription: item.transactionDescription?.S ?? "",
    accountId: item.accountId!.S!,
    instrumentKind: item.instrumentKind!.S! as CaptureRecord["instrumentKind"],
    createdAtMs: Number(item.createdAtMs!.N!),
  };
}
