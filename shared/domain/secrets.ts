import { createHash } from "node:crypto";

/**
 * Customer secrets and identifiers (payment tokens, OTPs) are stored and logged only as this
 * digest, so the ledger can find them without keeping them.
 */
export const secretDigest = (secret: string): string =>
  createHash("sha256").update(secret).digest("base64url");
