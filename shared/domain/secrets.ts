import { createHash, createHmac } from "node:crypto";

/**
 * Customer secrets and identifiers (payment tokens, OTPs) are stored and logged only as this
 * digest, so the ledger can find them without keeping them.
 */
export const secretDigest = (secret: string): string =>
  createHash("sha256").update(secret).digest("base64url");

/**
 * An OTP's digest: HMAC-SHA256 under a secret pepper, bound to its sendOtpRequestId. A 6-digit OTP
 * has a million values, so an unkeyed hash of it falls at once to anyone who reads the ledger.
 */
export const otpDigest = (pepper: Uint8Array, sendOtpRequestId: string, otp: string): string =>
  createHmac("sha256", pepper).update(sendOtpRequestId).update("\0").update(otp).digest("base64url");
