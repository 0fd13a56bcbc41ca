import { createHash } from "node:crypto";

/** JSON with object keys sorted, so two equal requests serialise the same whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The request as the idempotency rule sees it: everything but requestHeader.requestTimestamp,
 * which Google changes on every retry.
 */
export function requestFingerprint(method: string, body: Record<string, unknown>): string {
  const header = body.requestHeader as Record<string, unknown> | undefined;
  const { requestTimestamp: _ignored, ...stableHeader } = header ?? {};
  return createHash("sha256")
    .update(method)
    .update("\n")
    .update(canonicalJson({ ...body, requestHeader: stableHeader }))
    .digest("base64url");
}

/** Key of a request's idempotency record: PIAID + requestId (requestIds cannot contain '#'). */
export const idempotencyKey = (paymentIntegratorAccountId: string, requestId: string) =>
  `${paymentIntegratorAccountId}#${requestId}`;
