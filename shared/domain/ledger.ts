/** The integrator's own ledger, as plain data. Storage lives in shared/adapters. */

import type { Periods } from "./periods.ts";

export const AccountStatus = [
  "ACTIVE",
  "ON_HOLD",
  "CLOSED",
  "CLOSED_FRAUD",
  "CLOSED_ACCOUNT_TAKEN_OVER",
] as const;
export type AccountStatus = (typeof AccountStatus)[number];

/** Whether the account has something to pay from right now. */
export const FundingSourceState = ["AVAILABLE", "UNAVAILABLE", "NONE"] as const;
export type FundingSourceState = (typeof FundingSourceState)[number];

export interface CurrencyLimits {
  transactionMax?: bigint;
  transactionMin?: bigint;
  dailyMax?: bigint;
  monthlyMax?: bigint;
  monthlyCountMax?: number;
}

export interface AccountCurrency {
  balance: bigint;
  limits: CurrencyLimits;
  /**
   * The spend counters, kept on the account itself so a debit writes one item. Undefined only on an
   * account stored in the earlier layout (separate spend items), which the store folds in on first use.
   */
  spend?: SpendCounters;
}

/** Spend in the day and month the counters were last written in (ledger time zone, `Periods` strings). */
export interface SpendCounters {
  day?: string;
  dayAmount: bigint;
  month?: string;
  monthAmount: bigint;
  monthCount: number;
}

export const NO_SPEND: SpendCounters = { dayAmount: 0n, monthAmount: 0n, monthCount: 0 };

/** Data a risk rule may use; the default rule is configured per account in the fixture. */
export interface RiskSettings {
  declineAmountAtOrAbove?: bigint;
}

export interface Account {
  accountId: string;
  status: AccountStatus;
  fundingSource: FundingSourceState;
  /** Keyed by ISO 4217 code; an absent currency is not supported by the account. */
  currencies: Record<string, AccountCurrency>;
  risk: RiskSettings;
  /** Bumped whenever status, funding source, limits or risk change: a decision is only valid for the version it read. */
  configVersion: number;
}

/** What the account has spent in one currency in the current day and month (ledger time zone). */
export interface PeriodSpend {
  day: bigint;
  month: bigint;
  monthCount: number;
}

/**
 * The periods a debit at `periods` counts in, given the counters as read: the counters' own period when
 * it is the same or later (another process's clock may be a moment ahead at midnight: never roll back),
 * else the new one, which starts from zero.
 */
export function currentPeriods(counters: SpendCounters, periods: Periods) {
  const day = counters.day !== undefined && counters.day >= periods.day ? counters.day : periods.day;
  const month =
    counters.month !== undefined && counters.month >= periods.month ? counters.month : periods.month;
  return { day, month, sameDay: day === counters.day, sameMonth: month === counters.month };
}

/** What the counters say was spent in the current periods. */
export function spendIn(counters: SpendCounters, periods: Periods): PeriodSpend {
  const current = currentPeriods(counters, periods);
  return {
    day: current.sameDay ? counters.dayAmount : 0n,
    month: current.sameMonth ? counters.monthAmount : 0n,
    monthCount: current.sameMonth ? counters.monthCount : 0,
  };
}

export const TokenStatus = ["ACTIVE", "INVALIDATED_BY_USER", "REFRESH_REQUIRED"] as const;
export type TokenStatus = (typeof TokenStatus)[number];
export const MandateStatus = ["ACTIVE", "INACTIVE"] as const;
export type MandateStatus = (typeof MandateStatus)[number];

export type Instrument =
  | { kind: "TOKEN"; googlePaymentToken: string; accountId: string; status: TokenStatus }
  | { kind: "MANDATE"; mandateId: string; accountId: string; status: MandateStatus }
  /** A UPI virtual payment address of the customer's, for asynchronous captures. */
  | { kind: "VPA"; vpa: string; accountId: string };

export interface UpcomingTransactionNotification {
  upcomingTransactionNotificationId: string;
  mandateId: string;
  expiresAtMs: number;
}

/** An OTP we issued through sendOtp. Only its digest is kept: see otpDigest. */
export interface Otp {
  sendOtpRequestId: string;
  accountId: string;
  otpDigest: string;
  used: boolean;
  /** Wrong tries so far; at MAX_OTP_ATTEMPTS the OTP is exhausted. */
  attempts: number;
  /** Past this instant it matches nothing (absent on OTPs stored before expiries existed). */
  expiresAtMs?: number;
}

export interface AuthenticationRequest {
  authenticationRequestId: string;
  accountId: string;
}
