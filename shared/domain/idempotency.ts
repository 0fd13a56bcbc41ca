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
 * The request as the idempotency rule sees it: everything but requestHeader.requestTimestamp, which
 * Google changes on every retry, and the deprecated requestHeader.userLocale; a null member is absent.
 */
export function requestFingerprint(method: string, body: Record<string, unknown>): string {
  const { userLocale: _deprecated, ...header } = stableHeader(body);
  return digest(method, withoutNulls({ ...body, requestHeader: header }));
}

/**
 * The fingerprints a stored record may hold for this request: today's first (what a new record
 * stores), then the one written before nulls and userLocale were left out, when it differs.
 */
export function requestFingerprints(method: string, body: Record<string, unknown>): readonly string[] {
  const current = requestFingerprint(method, body);
  const legacy = digest(method, { ...body, requestHeader: stableHeader(body) });
  return legacy === current ? [current] : [current, legacy];
}

function stableHeader(body: Record<string, unknown>): Record<string, unknown> {
  const { requestTimestamp: _ignored, ...stable } = (body.requestHeader as Record<string, unknown>) ?? {};
  return stable;
}

const digest = (method: string, value: unknown) =>
  createHash("sha256").update(method).update("\n").update(canonicalJson(value)).digest("base64url");

/** The value with every null object member removed, at every depth (proto3 JSON writes a default as null). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/** Key of a request's idempotency record: PIAID + requestId (requestIds cannot contain '#'). */
export const idempotencyKey = (paymentIntegratorAccountId: string, requestId: string) =>
  `${paymentIntegratorAccountId}#${requestId}`;
