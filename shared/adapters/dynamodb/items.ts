import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type {
  Account,
  AccountCurrency,
  AuthenticationRequest,
  CurrencyLimits,
  Instrument,
  Otp,
  SpendCounters,
  UpcomingTransactionNotification,
} from "../../domain/ledger.ts";
import { NO_SPEND } from "../../domain/ledger.ts";
import { secretDigest } from "../../domain/secrets.ts";

type InstrumentRef =
  | { kind: "TOKEN"; googlePaymentToken: string }
  | { kind: "MANDATE" | "MANDATE_WITH_NOTIFICATION"; mandateId: string }
  | { kind: "VPA"; vpa: string };

/** Key layout of the ledger table (pk, sk). Tokens are keyed by digest: the raw token is never stored. */
export const ledgerKeys = {
  account: (accountId: string) => ({ pk: `ACCOUNT#${accountId}`, sk: "ACCOUNT" }),
  /** The earlier layout's spend items, read only to fold them into the account (see `foldLegacySpend`). */
  legacyDaySpend: (accountId: string, currency: string, day: string) => ({
    pk: `ACCOUNT#${accountId}`,
    sk: `SPEND#${currency}#D#${day}`,
  }),
  legacyMonthSpend: (accountId: string, currency: string, month: string) => ({
    pk: `ACCOUNT#${accountId}`,
    sk: `SPEND#${currency}#M#${month}`,
  }),
  token: (googlePaymentToken: string) => ({
    pk: `TOKEN#${secretDigest(googlePaymentToken)}`,
    sk: "INSTRUMENT",
  }),
  mandate: (mandateId: string) => ({ pk: `MANDATE#${mandateId}`, sk: "INSTRUMENT" }),
  /** VPAs identify a customer: keyed by digest like tokens. */
  vpa: (vpa: string) => ({ pk: `VPA#${secretDigest(vpa.toLowerCase())}`, sk: "INSTRUMENT" }),
  /** The instrument item named by a form of payment (or by an instrument of the fixture). */
  instrument: (ref: InstrumentRef): { pk: string; sk: string } =>
    ref.kind === "TOKEN"
      ? ledgerKeys.token(ref.googlePaymentToken)
      : ref.kind === "VPA"
        ? ledgerKeys.vpa(ref.vpa)
        : ledgerKeys.mandate(ref.mandateId),
  utn: (id: string) => ({ pk: `UTN#${id}`, sk: "UTN" }),
  otp: (sendOtpRequestId: string) => ({ pk: `OTP#${sendOtpRequestId}`, sk: "OTP" }),
  authentication: (id: string) => ({ pk: `AUTH#${id}`, sk: "AUTH" }),
};

export type Item = Record<string, AttributeValue>;
export const S = (s: string): AttributeValue => ({ S: s });
export const N = (n: bigint | number): AttributeValue => ({ N: n.toString() });
export const key = (k: { pk: string; sk: string }): Item => ({ pk: S(k.pk), sk: S(k.sk) });

const itemName = (i: Item) => `${i.pk?.S}/${i.sk?.S}`;
const str = (i: Item, name: string): string => {
  const value = i[name]?.S;
  if (value === undefined) throw new Error(`ledger item ${itemName(i)} lacks ${name}`);
  return value;
};
const big = (av: AttributeValue | undefined): bigint | undefined =>
  av?.N === undefined ? undefined : BigInt(av.N);

const LIMIT_NAMES = ["transactionMax", "transactionMin", "dailyMax", "monthlyMax"] as const;

export function accountToItem(account: Account): Item {
  const currencies: Record<string, AttributeValue> = {};
  for (const [code, c] of Object.entries(account.currencies)) {
    const m: Item = { balance: N(c.balance), spend: spendToAttribute(c.spend ?? NO_SPEND) };
    for (const name of LIMIT_NAMES) if (c.limits[name] !== undefined) m[name] = N(c.limits[name]);
    if (c.limits.monthlyCountMax !== undefined) m.monthlyCountMax = N(c.limits.monthlyCountMax);
    currencies[code] = { M: m };
  }
  const risk: Item = {};
  if (account.risk.declineAmountAtOrAbove !== undefined) {
    risk.declineAmountAtOrAbove = N(account.risk.declineAmountAtOrAbove);
  }
  return {
    ...key(ledgerKeys.account(account.accountId)),
    accountId: S(account.accountId),
    status: S(account.status),
    fundingSource: S(account.fundingSource),
    currencies: { M: currencies },
    risk: { M: risk },
    configVersion: N(account.configVersion),
  };
}

export function itemToAccount(item: Item): Account {
  const currencies: Record<string, AccountCurrency> = {};
  for (const [code, av] of Object.entries(item.currencies?.M ?? {})) {
    const m = av.M ?? {};
    const limits: CurrencyLimits = {};
    for (const name of LIMIT_NAMES) {
      const v = big(m[name]);
      if (v !== undefined) limits[name] = v;
    }
    if (m.monthlyCountMax?.N !== undefined) limits.monthlyCountMax = Number(m.monthlyCountMax.N);
    const spend = attributeToSpend(m.spend);
    currencies[code] = { balance: big(m.balance) ?? 0n, limits, ...(spend && { spend }) };
  }
  const threshold = big(item.risk?.M?.declineAmountAtOrAbove);
  return {
    accountId: str(item, "accountId"),
    status: str(item, "status") as Account["status"],
    fundingSource: str(item, "fundingSource") as Account["fundingSource"],
    currencies,
    risk: threshold === undefined ? {} : { declineAmountAtOrAbove: threshold },
    configVersion: Number(item.configVersion?.N ?? 0),
  };
}

/** Attribute names of the spend counters inside `currencies.<code>.spend` (DAY and MONTH are reserved words). */
export const SPEND_NAMES = {
  "#sp": "spend",
  "#day": "day",
  "#dayAmount": "dayAmount",
  "#month": "month",
  "#monthAmount": "monthAmount",
  "#monthCount": "monthCount",
} as const;

/** The spend counters as the account item holds them (`currencies.<code>.spend`). */
export const spendToAttribute = (s: SpendCounters): AttributeValue => ({
  M: {
    ...(s.day !== undefined && { day: S(s.day) }),
    dayAmount: N(s.dayAmount),
    ...(s.month !== undefined && { month: S(s.month) }),
    monthAmount: N(s.monthAmount),
    monthCount: N(s.monthCount),
  },
});

function attributeToSpend(av: AttributeValue | undefined): SpendCounters | undefined {
  const m = av?.M;
  if (!m) return undefined;
  return {
    ...(m.day?.S !== undefined && { day: m.day.S }),
    dayAmount: big(m.dayAmount) ?? 0n,
    ...(m.month?.S !== undefined && { month: m.month.S }),
    monthAmount: big(m.monthAmount) ?? 0n,
    monthCount: Number(m.monthCount?.N ?? 0),
  };
}

export function instrumentToItem(instrument: Instrument): Item {
  const common = {
    ...key(ledgerKeys.instrument(instrument)),
    kind: S(instrument.kind),
    accountId: S(instrument.accountId),
  };
  switch (instrument.kind) {
    case "TOKEN":
      return { ...common, status: S(instrument.status) };
    case "MANDATE":
      return { ...common, mandateId: S(instrument.mandateId), status: S(instrument.status) };
    case "VPA":
      return common;
  }
}

/**
 * The account item keeps a copy of each of its instruments' status: one attribute per instrument, named
 * by the instrument item's pk (a digest for tokens and VPAs, never the raw identifier), holding its status
 * ("BOUND" for a VPA, which has none). A capture then reads the instrument's status, the balance, the
 * counters and the configuration version from one item, atomically, and needs no read of the instrument
 * item once the process knows the instrument's account (that binding never changes). setInstrumentStatus
 * and the ledger loader write item and copy together; an account of the earlier layout gets its copy on
 * first use (copyInstrumentStatus). About 60 bytes per instrument on the account item.
 */
export const instrumentCopyName = (instrumentPk: string) => `instrument#${instrumentPk}`;
const VPA_BOUND = "BOUND";

/** The copy attributes of these instruments, for their account's item. */
export function instrumentCopies(instruments: readonly Instrument[]): Item {
  const copies: Item = {};
  for (const i of instruments) copies[instrumentCopyName(ledgerKeys.instrument(i).pk)] = instrumentCopy(i);
  return copies;
}

export const instrumentCopy = (i: Instrument): AttributeValue => S(i.kind === "VPA" ? VPA_BOUND : i.status);

/** The instrument as its account's copy describes it, or undefined when the account holds no copy of it. */
export function instrumentFromCopy(
  accountItem: Item,
  instrumentPk: string,
  rawIdentifier = "",
): Instrument | undefined {
  const status = accountItem[instrumentCopyName(instrumentPk)]?.S;
  if (status === undefined) return undefined;
  const accountId = str(accountItem, "accountId");
  const [kind] = instrumentPk.split("#", 1);
  switch (kind) {
    case "TOKEN":
      return { kind: "TOKEN", googlePaymentToken: rawIdentifier, accountId, status: status as "ACTIVE" };
    case "VPA":
      return { kind: "VPA", vpa: rawIdentifier, accountId };
    case "MANDATE":
      return {
        kind: "MANDATE",
        mandateId: instrumentPk.slice("MANDATE#".length),
        accountId,
        status: status as "ACTIVE",
      };
    default:
      throw new Error(`ledger item ${itemName(accountItem)}: no instrument kind in ${instrumentPk}`);
  }
}

/** Tokens and VPAs are not in their items; whoever looked one up supplies it (or "" when read by reference). */
export function itemToInstrument(item: Item, rawIdentifier = ""): Instrument {
  const accountId = str(item, "accountId");
  switch (str(item, "kind")) {
    case "TOKEN":
      return {
        kind: "TOKEN",
        googlePaymentToken: rawIdentifier,
        accountId,
        status: str(item, "status") as "ACTIVE",
      };
    case "VPA":
      return { kind: "VPA", vpa: rawIdentifier, accountId };
    default:
      return {
        kind: "MANDATE",
        mandateId: str(item, "mandateId"),
        accountId,
        status: str(item, "status") as "ACTIVE",
      };
  }
}

export const utnToItem = (u: UpcomingTransactionNotification): Item => ({
  ...key(ledgerKeys.utn(u.upcomingTransactionNotificationId)),
  upcomingTransactionNotificationId: S(u.upcomingTransactionNotificationId),
  mandateId: S(u.mandateId),
  expiresAtMs: N(u.expiresAtMs),
});
export const itemToUtn = (item: Item): UpcomingTransactionNotification => ({
  upcomingTransactionNotificationId: str(item, "upcomingTransactionNotificationId"),
  mandateId: str(item, "mandateId"),
  expiresAtMs: Number(item.expiresAtMs?.N ?? 0),
});

export const otpToItem = (o: Otp): Item => ({
  ...key(ledgerKeys.otp(o.sendOtpRequestId)),
  sendOtpRequestId: S(o.sendOtpRequestId),
  accountId: S(o.accountId),
  otpDigest: S(o.otpDigest),
  used: { BOOL: o.used },
  attempts: N(o.attempts),
  ...(o.expiresAtMs !== undefined && { expiresAtMs: N(o.expiresAtMs) }),
});
export const itemToOtp = (item: Item): Otp => ({
  sendOtpRequestId: str(item, "sendOtpRequestId"),
  accountId: str(item, "accountId"),
  otpDigest: str(item, "otpDigest"),
  used: item.used?.BOOL === true,
  attempts: Number(item.attempts?.N ?? 0),
  ...(item.expiresAtMs?.N !== undefined && { expiresAtMs: Number(item.expiresAtMs.N) }),
});

export const authenticationToItem = (a: AuthenticationRequest): Item => ({
  ...key(ledgerKeys.authentication(a.authenticationRequestId)),
  authenticationRequestId: S(a.authenticationRequestId),
  accountId: S(a.accountId),
});
export const itemToAuthentication = (item: Item): AuthenticationRequest => ({
  authenticationRequestId: str(item, "authenticationRequestId"),
  accountId: str(item, "accountId"),
});
