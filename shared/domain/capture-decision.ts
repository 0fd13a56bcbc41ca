import { timingSafeEqual } from "node:crypto";
import type { CaptureRequest, CaptureResultCode } from "../protocol/capture.ts";
import { ProtocolError, unknownIdentifier } from "../protocol/errors.ts";
import type {
  Account,
  AuthenticationRequest,
  Instrument,
  Otp,
  PeriodSpend,
  UpcomingTransactionNotification,
} from "./ledger.ts";

/** Everything the ledger knows that a capture depends on, read before deciding. */
export interface CaptureFacts {
  instrument: Instrument | undefined;
  /** The store's opaque reference of the instrument read (recorded with the capture). */
  instrumentRef?: string;
  account: Account | undefined;
  spend: PeriodSpend;
  upcomingTransactionNotification: UpcomingTransactionNotification | undefined;
  otp: Otp | undefined;
  authenticationRequest: AuthenticationRequest | undefined;
}

/** A pluggable risk rule: a raw decline code to refuse the payment, undefined to let it through. */
export type RiskRule = (account: Account, request: CaptureRequest) => string | undefined;

/** The default rule: the account's configured amount threshold. */
export const thresholdRiskRule: RiskRule = (account, request) => {
  const threshold = account.risk.declineAmountAtOrAbove;
  return threshold !== undefined && request.amount >= threshold ? "RISK_AMOUNT_THRESHOLD" : undefined;
};

export interface CaptureDecision {
  result: CaptureResultCode;
  /** Our subsystem's own code, sent as rawResult.rawCode on every non-SUCCESS. */
  rawCode: string;
  transactionLimit?: bigint;
  currentBalance?: bigint;
  /** The OTP was checked and matched: it is spent whatever the result. */
  consumeOtp: boolean;
  /** The OTP was tried and did not match: the wrong try is counted, atomically with the answer. */
  countOtpFailure?: boolean;
}

/** Wrong tries an OTP takes; after them it matches nothing, the right OTP included (OTP_NOT_MATCHED). */
export const MAX_OTP_ATTEMPTS = 5;

const decline = (result: CaptureResultCode, rawCode: string, extra: Partial<CaptureDecision> = {}) => ({
  result,
  rawCode,
  consumeOtp: false,
  ...extra,
});

/** What an account that cannot pay at all answers, whatever the method (capture and asynchronousCapture alike). */
export const ACCOUNT_STATUS_RESULT = {
  CLOSED: "ACCOUNT_CLOSED",
  CLOSED_FRAUD: "ACCOUNT_CLOSED_FRAUD",
  CLOSED_ACCOUNT_TAKEN_OVER: "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  ON_HOLD: "ACCOUNT_ON_HOLD",
} as const satisfies Record<Exclude<Account["status"], "ACTIVE">, CaptureResultCode>;

/**
 * Decides a capture from the ledger's facts. Unknown identifiers are protocol errors (404, not
 * stored); every other outcome is a result code returned with HTTP 200. The order goes from the
 * most permanent reason (a closed account) to the most transient (today's balance).
 */
export function decideCapture(
  request: CaptureRequest,
  facts: CaptureFacts,
  nowMs: number,
  riskRule: RiskRule = thresholdRiskRule,
  /** otpDigest of the OTP the request presents (the pepper is not the rules' to hold). */
  presentedOtpDigest?: string,
): CaptureDecision {
  const { instrument, account } = facts;
  const fop = request.fop;
  if (!instrument || !account) throw unknownIdentifier(instrumentKindName(fop));

  let utnExpired = false;
  if (fop.kind === "MANDATE_WITH_NOTIFICATION") {
    const utn = facts.upcomingTransactionNotification;
    if (!utn) throw unknownIdentifier("upcomingTransactionNotificationId");
    if (utn.mandateId !== fop.mandateId) {
      throw new ProtocolError(
        "PRECONDITION_VIOLATION",
        "upcomingTransactionNotificationId is for another mandate",
      );
    }
    utnExpired = utn.expiresAtMs <= nowMs;
  }
  const verification = request.verification;
  if (verification.kind === "AUTHENTICATION") {
    const auth = facts.authenticationRequest;
    if (!auth) throw unknownIdentifier("authenticationRequestId");
    if (auth.accountId !== account.accountId) {
      throw new ProtocolError("PRECONDITION_VIOLATION", "authenticationRequestId is for another account");
    }
  }
  if (verification.kind === "OTP" && !facts.otp) throw unknownIdentifier("otpVerification.sendOtpRequestId");

  if (account.status !== "ACTIVE") {
    const result = ACCOUNT_STATUS_RESULT[account.status];
    return decline(result, `ACCOUNT_${account.status}`);
  }
  if (instrument.kind === "TOKEN") {
    if (instrument.status === "INVALIDATED_BY_USER") {
      return decline("GOOGLE_PAYMENT_TOKEN_INVALIDATED_BY_USER", "TOKEN_INVALIDATED_BY_USER");
    }
    if (instrument.status === "REFRESH_REQUIRED")
      return decline("TOKEN_REFRESH_REQUIRED", "TOKEN_REFRESH_REQUIRED");
  } else if (instrument.kind === "MANDATE" && instrument.status !== "ACTIVE") {
    return decline("MANDATE_NOT_ACTIVE", "MANDATE_INACTIVE");
  }
  if (utnExpired) return decline("UPCOMING_TRANSACTION_NOTIFICATION_EXPIRED", "UTN_EXPIRED");

  let consumeOtp = false;
  if (verification.kind === "OTP") {
    const otp = facts.otp!;
    if (presentedOtpDigest === undefined) throw new Error("an OTP to check but no digest of it");
    // Exhausted or expired before comparing, so the answer says nothing of whether this guess was right.
    if (otp.attempts >= MAX_OTP_ATTEMPTS) return decline("OTP_NOT_MATCHED", "OTP_ATTEMPTS_EXHAUSTED");
    if (otp.expiresAtMs !== undefined && otp.expiresAtMs <= nowMs)
      return decline("OTP_NOT_MATCHED", "OTP_EXPIRED");
    // An OTP issued for another account is reported as not matching: the answer says nothing of other accounts.
    if (otp.accountId !== account.accountId || !digestsEqual(otp.otpDigest, presentedOtpDigest)) {
      return decline("OTP_NOT_MATCHED", "OTP_MISMATCH", { countOtpFailure: !otp.used });
    }
    if (otp.used) return decline("OTP_ALREADY_USED", "OTP_USED");
    consumeOtp = true;
  }
  const withOtp = (d: CaptureDecision): CaptureDecision => ({ ...d, consumeOtp });

  const currency = account.currencies[request.currencyCode];
  if (!currency) return withOtp(decline("ACCOUNT_DOES_NOT_SUPPORT_CURRENCY", "CURRENCY_NOT_HELD"));
  if (account.fundingSource === "NONE") {
    return withOtp(decline("NO_GOOD_FUNDING_SOURCE_AVAILABLE", "NO_FUNDING_SOURCE"));
  }
  if (account.fundingSource === "UNAVAILABLE") {
    return withOtp(decline("FUNDING_SOURCE_UNAVAILABLE", "FUNDING_SOURCE_DOWN"));
  }

  const { amount } = request;
  const limits = currency.limits;
  if (limits.transactionMax !== undefined && amount > limits.transactionMax) {
    return withOtp(
      decline("CHARGE_EXCEEDS_TRANSACTION_LIMIT", "OVER_TRANSACTION_MAX", {
        transactionLimit: limits.transactionMax,
      }),
    );
  }
  if (limits.transactionMin !== undefined && amount < limits.transactionMin) {
    return withOtp(decline("CHARGE_UNDER_LIMIT", "UNDER_TRANSACTION_MIN"));
  }
  const riskCode = riskRule(account, request);
  if (riskCode !== undefined) return withOtp(decline("RISK_DECLINED", riskCode));

  const { spend } = facts;
  if (limits.dailyMax !== undefined && spend.day + amount > limits.dailyMax) {
    return withOtp(decline("CHARGE_EXCEEDS_DAILY_LIMIT", "OVER_DAILY_MAX"));
  }
  if (limits.monthlyMax !== undefined && spend.month + amount > limits.monthlyMax) {
    return withOtp(decline("CHARGE_EXCEEDS_MONTHLY_LIMIT", "OVER_MONTHLY_MAX"));
  }
  if (limits.monthlyCountMax !== undefined && spend.monthCount + 1 > limits.monthlyCountMax) {
    return withOtp(decline("CHARGE_EXCEEDS_MONTHLY_LIMIT", "OVER_MONTHLY_COUNT"));
  }
  if (currency.balance < amount) {
    return withOtp(decline("INSUFFICIENT_FUNDS", "BALANCE_TOO_LOW", { currentBalance: currency.balance }));
  }
  return { result: "SUCCESS", rawCode: "APPROVED", consumeOtp };
}

/** How an unknown instrument is named in the 404's description (the kind, never the value). */
export const instrumentKindName = (fop: CaptureRequest["fop"]) =>
  fop.kind === "TOKEN" ? "googlePaymentToken" : fop.kind === "VPA" ? "upiDetails.vpa" : "mandateId";

/** Compares two digests in constant time. */
function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
