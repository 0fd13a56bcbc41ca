/** The integrator's own ledger, as plain data. Storage lives in shared/adapters. */

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
}

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
