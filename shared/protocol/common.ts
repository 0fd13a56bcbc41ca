import * as v from "valibot";
import { invalidField, missingField, ProtocolError } from "./errors.ts";
import { isIso4217, parseMicros } from "./money.ts";

/** Google's clock and ours may differ by at most this much, both ways (gsp-protocol.md). */
export const CLOCK_SKEW_MS = 60_000;
export const SUPPORTED_MAJOR_VERSION = 1;

const int = v.pipe(v.number(), v.integer(), v.safeInteger());
const epochMillis = v.pipe(v.string(), v.regex(/^[0-9]{1,16}$/, "must be epoch milliseconds"));

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** A JSON object with these entries. valibot's object() alone also accepts arrays, which are never a protocol object. */
export const jsonObject = <E extends v.ObjectEntries>(entries: E) =>
  v.pipe(v.custom<Record<string, unknown>>(isPlainObject, "must be a JSON object"), v.object(entries));

/** A requestId, ours or Google's (also where a request names another one, e.g. a refund's captureRequestId). */
export const requestIdPattern = v.pipe(
  v.string(),
  v.regex(/^[a-zA-Z0-9:_-]{1,100}$/, "must be 1-100 of a-z A-Z 0-9 : - _"),
);

export const RequestHeader = jsonObject({
  protocolVersion: jsonObject({ major: int, minor: int, revision: int }),
  requestId: requestIdPattern,
  requestTimestamp: epochMillis,
});
export type RequestHeader = v.InferOutput<typeof RequestHeader>;

/** A free-form identifier Google gives us (token, mandate id…): non-empty and bounded. */
export const identifier = v.pipe(
  v.string(),
  v.minLength(1, "must not be empty"),
  // Bytes, not characters: identifiers become DynamoDB keys, which are limited in UTF-8 bytes.
  v.check((s) => Buffer.byteLength(s, "utf8") <= 1024, "is too long"),
);
export const text = v.pipe(v.string(), v.maxLength(4096, "is too long"));
export const positiveMicros = v.pipe(
  v.string(),
  v.check((s) => (parseMicros(s) ?? 0n) > 0n, "must be a positive int64 of micros"),
  v.transform((s) => BigInt(s)),
);
export const nonNegativeMicros = v.pipe(
  v.string(),
  v.check((s) => parseMicros(s) !== undefined, "must be a non-negative int64 of micros"),
  v.transform((s) => BigInt(s)),
);
export const currencyCode = v.pipe(v.string(), v.check(isIso4217, "must be an ISO 4217 code"));

/** The members both money-moving requests (capture, asynchronousCapture) carry, in this order. */
export const paymentEntries = {
  requestHeader: RequestHeader,
  paymentIntegratorAccountId: identifier,
  transactionDescription: text,
  currencyCode,
  amount: positiveMicros,
};
export interface PaymentRequest {
  requestHeader: RequestHeader;
  paymentIntegratorAccountId: string;
  transactionDescription: string;
  currencyCode: string;
  amount: bigint;
}
/** Those members of a parsed request, and nothing else. */
export const paymentOf = (r: PaymentRequest): PaymentRequest => ({
  requestHeader: r.requestHeader,
  paymentIntegratorAccountId: r.paymentIntegratorAccountId,
  transactionDescription: r.transactionDescription,
  currencyCode: r.currencyCode,
  amount: r.amount,
});

/** Turns the first valibot issue into the protocol's error: absent → MISSING_REQUIRED_FIELD, else INVALID_FIELD_VALUE. */
export function toProtocolError(issue: v.BaseIssue<unknown>): ProtocolError {
  const path = v.getDotPath(issue) ?? "request";
  if (issue.input === undefined || issue.input === null) return missingField(path);
  const custom = issue.kind === "validation" || issue.type === "custom";
  return invalidField(path, custom ? issue.message : `must be ${issue.expected ?? "valid"}`);
}

export function parseWith<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: true });
  if (result.success) return result.output;
  throw toProtocolError(result.issues[0]);
}

const HeaderOnly = v.object({ requestHeader: RequestHeader });

/**
 * Checks the header before anything else, in the protocol's order: a request for another major
 * version is refused as such even if the rest of its body has another shape.
 */
export function checkRequestHeader(body: unknown, nowMs: number): RequestHeader {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProtocolError("INVALID_DECRYPTED_REQUEST", "request body is not a JSON object");
  }
  const major = (body as { requestHeader?: { protocolVersion?: { major?: unknown } } }).requestHeader
    ?.protocolVersion?.major;
  if (typeof major === "number" && major !== SUPPORTED_MAJOR_VERSION) {
    throw new ProtocolError(
      "INVALID_API_VERSION",
      `protocolVersion.major ${SUPPORTED_MAJOR_VERSION} is supported`,
    );
  }
  const { requestHeader } = parseWith(HeaderOnly, body);
  if (Math.abs(Number(requestHeader.requestTimestamp) - nowMs) > CLOCK_SKEW_MS) {
    throw new ProtocolError(
      "REQUEST_TIMESTAMP_OUT_OF_RANGE",
      "requestTimestamp is not within 60 s of our clock",
    );
  }
  return requestHeader;
}

/** Exactly one (or, with `optional`, at most one) member of a protocol union is present. */
export function unionMember<K extends string>(
  body: Record<string, unknown>,
  members: readonly K[],
  union: string,
  optional = false,
): K | undefined {
  const present = members.filter((m) => body[m] !== undefined && body[m] !== null);
  if (present.length > 1) throw invalidField(union, `must hold exactly one of ${members.join(", ")}`);
  if (present.length === 0 && !optional) throw missingField(`${union} (one of ${members.join(", ")})`);
  return present[0];
}

export const RawResult = v.object({ scope: v.optional(v.string()), rawCode: v.string() });
export type RawResult = v.InferOutput<typeof RawResult>;
