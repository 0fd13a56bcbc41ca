import * as v from "valibot";
import {
  type Account,
  AccountStatus,
  type AuthenticationRequest,
  FundingSourceState,
  type Instrument,
  MandateStatus,
  type Otp,
  TokenStatus,
  type UpcomingTransactionNotification,
} from "./domain/ledger.ts";
import { otpDigest } from "./domain/secrets.ts";
import { VPA_PATTERN } from "./protocol/asynchronous-capture.ts";
import { currencyCode, nonNegativeMicros } from "./protocol/common.ts";

/**
 * The ledger fixture format (documented in README "Ledger fixtures"). Amounts are int64 micros
 * strings, as on the wire.
 */
const micros = nonNegativeMicros;
const id = v.pipe(v.string(), v.minLength(1));

const LedgerFixture = v.object({
  accounts: v.array(
    v.object({
      accountId: id,
      status: v.picklist(AccountStatus),
      fundingSource: v.optional(v.picklist(FundingSourceState), "AVAILABLE"),
      currencies: v.record(
        currencyCode,
        v.object({
          balance: micros,
          transactionMax: v.optional(micros),
          transactionMin: v.optional(micros),
          dailyMax: v.optional(micros),
          monthlyMax: v.optional(micros),
          monthlyCountMax: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
        }),
      ),
      risk: v.optional(v.object({ declineAmountAtOrAbove: v.optional(micros) }), {}),
    }),
  ),
  tokens: v.optional(
    v.array(v.object({ googlePaymentToken: id, accountId: id, status: v.picklist(TokenStatus) })),
    [],
  ),
  vpas: v.optional(
    v.array(v.object({ vpa: v.pipe(v.string(), v.regex(VPA_PATTERN, "is not a UPI VPA")), accountId: id })),
    [],
  ),
  mandates: v.optional(
    v.array(v.object({ mandateId: id, accountId: id, status: v.picklist(MandateStatus) })),
    [],
  ),
  upcomingTransactionNotifications: v.optional(
    v.array(
      v.object({
        upcomingTransactionNotificationId: id,
        mandateId: id,
        expiresAt: v.pipe(v.string(), v.isoTimestamp()),
      }),
    ),
    [],
  ),
  otps: v.optional(
    v.array(
      v.object({
        sendOtpRequestId: id,
        accountId: id,
        otp: id,
        used: v.optional(v.boolean(), false),
        /** Default: a day after the fixture is loaded. */
        expiresAt: v.optional(v.pipe(v.string(), v.isoTimestamp())),
      }),
    ),
    [],
  ),
  authenticationRequests: v.optional(v.array(v.object({ authenticationRequestId: id, accountId: id })), []),
});

export interface Ledger {
  accounts: Account[];
  instruments: Instrument[];
  upcomingTransactionNotifications: UpcomingTransactionNotification[];
  otps: Otp[];
  authenticationRequests: AuthenticationRequest[];
}

/** How long a fixture's OTP lasts when it names no expiry. */
const FIXTURE_OTP_LIFETIME_MS = 24 * 3600_000;

/**
 * Validates a fixture and turns it into domain objects; throws one readable message when it is
 * wrong. OTPs are digested under `otpPepper`, the same pepper the service checks them with.
 */
export function parseLedgerFixture(
  json: unknown,
  otpPepper?: Uint8Array,
  configVersion = Date.now(),
): Ledger {
  const result = v.safeParse(LedgerFixture, json);
  if (!result.success) {
    const i = result.issues[0];
    throw new Error(`ledger fixture: ${v.getDotPath(i) ?? "(root)"} ${i.message}`);
  }
  const f = result.output;
  const accountIds = new Set(f.accounts.map((a) => a.accountId));
  const refs = [...f.tokens, ...f.mandates, ...f.vpas, ...f.otps, ...f.authenticationRequests];
  const dangling = refs.find((r) => !accountIds.has(r.accountId));
  if (dangling) throw new Error(`ledger fixture: unknown accountId ${dangling.accountId}`);
  if (f.otps.length > 0 && !otpPepper)
    throw new Error("ledger fixture: its OTPs need the OTP pepper to be stored");
  return {
    accounts: f.accounts.map((a) => ({
      accountId: a.accountId,
      status: a.status,
      fundingSource: a.fundingSource,
      currencies: Object.fromEntries(
        Object.entries(a.currencies).map(([code, { balance, ...limits }]) => [code, { balance, limits }]),
      ),
      risk: a.risk,
      configVersion,
    })),
    instruments: [
      ...f.tokens.map((t) => ({ kind: "TOKEN" as const, ...t })),
      ...f.mandates.map((m) => ({ kind: "MANDATE" as const, ...m })),
      ...f.vpas.map((x) => ({ kind: "VPA" as const, ...x })),
    ],
    upcomingTransactionNotifications: f.upcomingTransactionNotifications.map((u) => ({
      upcomingTransactionNotificationId: u.upcomingTransactionNotificationId,
      mandateId: u.mandateId,
      expiresAtMs: Date.parse(u.expiresAt),
    })),
    otps: f.otps.map((o) => ({
      sendOtpRequestId: o.sendOtpRequestId,
      accountId: o.accountId,
      otpDigest: otpDigest(otpPepper!, o.sendOtpRequestId, o.otp),
      used: o.used,
      attempts: 0,
      expiresAtMs: o.expiresAt ? Date.parse(o.expiresAt) : Date.now() + FIXTURE_OTP_LIFETIME_MS,
    })),
    authenticationRequests: f.authenticationRequests,
  };
}
