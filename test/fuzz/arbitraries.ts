import { readFileSync } from "node:fs";
import fc from "fast-check";
import { VPA_PATTERN } from "../../shared/protocol/asynchronous-capture.ts";
import { ErrorResponseCode } from "../../shared/protocol/errors.ts";
import { INT64_MAX } from "../../shared/protocol/money.ts";
import { allSecrets, UNKNOWN_TOKEN, WRONG_OTP } from "../support/secrets.ts";

/**
 * Generators shared by the capture fuzz tests. A case is a base request plus a list of edits
 * (plain data, so a counterexample prints readably); `buildWire` applies them at send time, with
 * the requestTimestamp taken from the clock then, and returns the JSON text Google would seal.
 */

export type Path = readonly string[];
export type Edit =
  /** Remove the member at path (a no-op when absent). */
  | { op: "delete"; path: Path }
  /** Put a JSON value at path (its parent must be an object, else a no-op). */
  | { op: "set"; path: Path; value: unknown }
  /** requestTimestamp = now + offsetMs. */
  | { op: "timestamp"; offsetMs: number }
  /** A string of `length` UTF-16 units made of `unit` (one or two units long) repeated. */
  | { op: "long"; path: Path; unit: string; length: number }
  /** A value nested `depth` levels deep: [[[…]]] or {"a":{"a":…}}. */
  | { op: "deep"; path: Path; shape: "array" | "object"; depth: number };

export interface Case {
  base: Record<string, unknown>;
  edits: Edit[];
}

/** The codes the validation layer (header check + schema) may answer with. */
export const VALIDATION_CODES: readonly ErrorResponseCode[] = [
  "INVALID_DECRYPTED_REQUEST",
  "INVALID_API_VERSION",
  "REQUEST_TIMESTAMP_OUT_OF_RANGE",
  "MISSING_REQUIRED_FIELD",
  "INVALID_FIELD_VALUE",
];
export const DOCUMENTED_CODES = Object.keys(ErrorResponseCode) as ErrorResponseCode[];

export const FOP_MEMBERS = [
  "googlePaymentToken",
  "mandateDetails",
  "mandateWithNotificationDetails",
] as const;
export const VERIFICATION_MEMBERS = ["authenticationRequestId", "otpVerification"] as const;
export const MISSING_FOP = `missing fopDetails (one of ${FOP_MEMBERS.join(", ")})`;

export type FieldType = "object" | "int" | "string";
export type FieldSpec = { path: Path; type: FieldType };
/** Every member the capture schema knows, with its JSON type. */
export const FIELDS: readonly FieldSpec[] = [
  { path: ["requestHeader"], type: "object" },
  { path: ["requestHeader", "protocolVersion"], type: "object" },
  { path: ["requestHeader", "protocolVersion", "major"], type: "int" },
  { path: ["requestHeader", "protocolVersion", "minor"], type: "int" },
  { path: ["requestHeader", "protocolVersion", "revision"], type: "int" },
  { path: ["requestHeader", "requestId"], type: "string" },
  { path: ["requestHeader", "requestTimestamp"], type: "string" },
  { path: ["paymentIntegratorAccountId"], type: "string" },
  { path: ["transactionDescription"], type: "string" },
  { path: ["currencyCode"], type: "string" },
  { path: ["amount"], type: "string" },
  { path: ["captureContext"], type: "object" },
  { path: ["captureContext", "userIpAddress"], type: "string" },
  { path: ["googlePaymentToken"], type: "string" },
  { path: ["mandateDetails"], type: "object" },
  { path: ["mandateDetails", "mandateId"], type: "string" },
  { path: ["mandateWithNotificationDetails"], type: "object" },
  { path: ["mandateWithNotificationDetails", "mandateId"], type: "string" },
  { path: ["mandateWithNotificationDetails", "upcomingTransactionNotificationId"], type: "string" },
  { path: ["authenticationRequestId"], type: "string" },
  { path: ["otpVerification"], type: "object" },
  { path: ["otpVerification", "sendOtpRequestId"], type: "string" },
  { path: ["otpVerification", "otp"], type: "string" },
];
/** Members that must be present whenever their parent is. */
export const REQUIRED = new Set([
  "requestHeader",
  "requestHeader.protocolVersion",
  "requestHeader.protocolVersion.major",
  "requestHeader.protocolVersion.minor",
  "requestHeader.protocolVersion.revision",
  "requestHeader.requestId",
  "requestHeader.requestTimestamp",
  "paymentIntegratorAccountId",
  "transactionDescription",
  "currencyCode",
  "amount",
  "captureContext",
  "mandateDetails.mandateId",
  "mandateWithNotificationDetails.mandateId",
  "mandateWithNotificationDetails.upcomingTransactionNotificationId",
  "otpVerification.sendOtpRequestId",
  "otpVerification.otp",
]);
/** Fields whose value the service logs when it looks like an identifier: never put a customer secret there. */
const LOGGED = new Set(["requestHeader.requestId", "paymentIntegratorAccountId"]);
const KNOWN_KEYS = new Set(FIELDS.map((f) => f.path.at(-1)!));

// ---------------------------------------------------------------- values

/** Amount strings around every edge of "positive int64 of micros, decimal digits". */
export const amountString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "0",
    "00",
    "01",
    "-1",
    "-0",
    "+1",
    " 1",
    "1 ",
    "1.5",
    "1.0",
    "1e6",
    "1E6",
    "0x10",
    "1_000",
    "Infinity",
    "NaN",
    "",
    String(INT64_MAX),
    String(INT64_MAX + 1n),
    String(INT64_MAX * 10n),
    "18446744073709551615",
    "١٢٣",
    "１２３",
    "𝟙𝟚𝟛",
    "٣",
    "728000000",
  ),
  fc.bigInt({ min: 1n, max: INT64_MAX }).map(String),
  fc.bigInt({ min: -INT64_MAX, max: -1n }).map(String),
  fc.bigInt({ min: INT64_MAX, max: INT64_MAX * 1000n }).map(String),
  fc.stringMatching(/^[0-9]{1,40}$/),
  fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.stringMatching(/^[0-9]{1,6}$/))
    .map(([i, f]) => `${i}.${f}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -20, max: 30 })).map(([m, e]) => `${m}e${e}`),
  fc
    .tuple(fc.constantFrom("١", "٢", "۳", "४", "১", "๒", "１", "𝟡"), fc.stringMatching(/^[0-9]{0,5}$/))
    .map(([u, d]) => `${d}${u}${d}`),
);

export const CURRENCIES = Intl.supportedValuesOf("currency");
export const currencyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...CURRENCIES),
  fc.constantFrom(...CURRENCIES).map((c) => c.toLowerCase()),
  fc.constantFrom(
    "inr",
    "Inr",
    "INR ",
    " INR",
    "INRR",
    "IN",
    "",
    "XYZ",
    "QQQ",
    "ІNR",
    "ＩＮＲ",
    "IN\u0000",
    "I\u200bNR",
    "€",
    "₹",
  ),
  fc.stringMatching(/^[A-Z]{3}$/),
  fc.string({ maxLength: 4, unit: "binary" }),
);

export const REQUEST_ID = /^[a-zA-Z0-9:_-]{1,100}$/;
export const requestIdString: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(REQUEST_ID),
  fc.constantFrom(
    "",
    "a".repeat(100),
    "a".repeat(101),
    "a b",
    "a#b",
    "a/b",
    "a.b",
    "é",
    "req-😀",
    "a\n",
    "١٢٣",
    "ａ",
  ),
  fc.stringMatching(/^[a-zA-Z0-9:_-]{101,140}$/),
  fc.string({ minLength: 1, maxLength: 20, unit: "binary" }),
);

/** A JSON value of one of the given types (never null). */
const ofType = (type: "string" | "number" | "boolean" | "array" | "object"): fc.Arbitrary<unknown> => {
  switch (type) {
    case "string":
      return fc.string({ maxLength: 20, unit: "binary" });
    case "number":
      return fc.oneof(
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(1, 0, 2, -1, 1.5, 1e21, 2 ** 53),
      );
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 });
    case "object":
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
  }
};
const JSON_TYPES = ["string", "number", "boolean", "array", "object"] as const;
const SAME_TYPE: Record<FieldType, (typeof JSON_TYPES)[number]> = {
  object: "object",
  int: "number",
  string: "string",
};
/** A non-null JSON value whose type is not the field's (an array is not an object). */
export const otherTypeValue = (type: FieldType): fc.Arbitrary<unknown> =>
  fc.oneof(...JSON_TYPES.filter((t) => t !== SAME_TYPE[type]).map(ofType));

const intValue = fc.oneof(
  fc.constantFrom(0, 1, 2, -1, 1.5, 2 ** 53, 1e21, -0),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Values worth trying at a path: its edge cases, other types, null. */
function valueFor(path: Path, type: FieldType, maxString: number): fc.Arbitrary<unknown> {
  const dotted = path.join(".");
  const edges: fc.Arbitrary<unknown>[] = [otherTypeValue(type), fc.constant(null)];
  if (type === "int") edges.push(intValue);
  if (type === "object") edges.push(ofType("object"), fc.constant({}));
  if (type === "string") {
    edges.push(fc.string({ maxLength: maxString, unit: "binary" }), fc.constantFrom("", " ", "\u0000"));
    if (dotted === "amount") edges.push(amountString, amountString, amountString);
    if (dotted === "currencyCode") edges.push(currencyString, currencyString);
    if (dotted === "requestHeader.requestId") edges.push(requestIdString, requestIdString);
    if (dotted === "requestHeader.requestTimestamp") {
      edges.push(
        fc.constantFrom("", "-1", "0", "1.5e12", "17000000000000000", " 1", "abc", "١٧٠٠٠٠٠٠٠٠٠٠٠"),
        fc.stringMatching(/^[0-9]{1,20}$/),
      );
    }
    // Customer secrets, only where the service never logs a value.
    if (!LOGGED.has(dotted)) edges.push(fc.constantFrom(...allSecrets()));
  }
  return fc.oneof(...edges);
}

const unknownKey = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !KNOWN_KEYS.has(k)),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "userLocale", ""),
);

export interface EditOptions {
  /** Longest generated string (in fast-check units) for ordinary edits. */
  maxString?: number;
}

/** What the edit generators know of one method's request. */
interface RequestShape {
  fields: readonly FieldSpec[];
  /** Values worth trying at a path. */
  valueFor: (path: Path, type: FieldType, maxString: number) => fc.Arbitrary<unknown>;
  /** Member names the method does not know. */
  unknownKey: fc.Arbitrary<string>;
  /** A union member with a plausible value, to put next to the one already there (methods with a union). */
  unionMember?: fc.Arbitrary<{ key: string; value: unknown }>;
}

/** One edit of a request: a field removed, replaced, an unknown field added, a union doubled, a clock skew. */
function editArbFor(shape: RequestShape, maxString: number): fc.Arbitrary<Edit> {
  const field = fc.constantFrom(...shape.fields);
  const objectPaths: Path[] = [[], ...shape.fields.filter((f) => f.type === "object").map((f) => f.path)];
  return fc.oneof(
    { weight: 3, arbitrary: field.map((f): Edit => ({ op: "delete", path: f.path })) },
    {
      weight: 6,
      arbitrary: field.chain((f) =>
        shape.valueFor(f.path, f.type, maxString).map((value): Edit => ({ op: "set", path: f.path, value })),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...objectPaths), shape.unknownKey, fc.jsonValue({ maxDepth: 3 }))
        .map(([parent, k, value]): Edit => ({ op: "set", path: [...parent, k], value })),
    },
    ...(shape.unionMember
      ? [
          {
            weight: 2,
            arbitrary: shape.unionMember.map((m): Edit => ({ op: "set", path: [m.key], value: m.value })),
          },
        ]
      : []),
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.integer({ min: -60_000, max: 60_000 }), fc.integer({ min: -1e13, max: 1e13 }))
        .map((offsetMs): Edit => ({ op: "timestamp", offsetMs })),
    },
  );
}

/** One edit of a capture request. */
export const editArb = ({ maxString = 40 }: EditOptions = {}): fc.Arbitrary<Edit> =>
  editArbFor({ fields: FIELDS, valueFor, unknownKey, unionMember: unionMemberArb }, maxString);

const del = (...path: string[]): Edit => ({ op: "delete", path });
const MANDATE_WITH_UTN = {
  mandateId: "mandate-demo-active",
  upcomingTransactionNotificationId: "utn-demo-valid",
};
const OTP = { sendOtpRequestId: "otp-demo-fresh", otp: WRONG_OTP };
/** Where a long string goes, what makes the rest of the request hold together around it, its limit. */
type LongTarget = { path: Path; prep: Edit[]; limit: number };
const LONG_TARGETS: LongTarget[] = [
  { path: ["paymentIntegratorAccountId"], prep: [], limit: 2048 },
  {
    path: ["googlePaymentToken"],
    prep: [del("mandateDetails"), del("mandateWithNotificationDetails")],
    limit: 2048,
  },
  {
    path: ["mandateDetails", "mandateId"],
    prep: [del("googlePaymentToken"), del("mandateWithNotificationDetails")],
    limit: 2048,
  },
  ...(["mandateId", "upcomingTransactionNotificationId"] as const).map((k) => ({
    path: ["mandateWithNotificationDetails", k],
    prep: [
      del("googlePaymentToken"),
      del("mandateDetails"),
      { op: "set", path: ["mandateWithNotificationDetails"], value: MANDATE_WITH_UTN } as Edit,
    ],
    limit: 2048,
  })),
  { path: ["authenticationRequestId"], prep: [del("otpVerification")], limit: 2048 },
  ...(["sendOtpRequestId", "otp"] as const).map((k) => ({
    path: ["otpVerification", k],
    prep: [del("authenticationRequestId"), { op: "set", path: ["otpVerification"], value: OTP } as Edit],
    limit: 2048,
  })),
  { path: ["transactionDescription"], prep: [], limit: 4096 },
  { path: ["captureContext", "userIpAddress"], prep: [], limit: 64 },
];

/**
 * A string up to (and just past) a field's length limit, in characters of 1 to 4 UTF-8 bytes (the
 * limits count UTF-16 units), with the edits that keep the rest of the request valid around it.
 */
function longEditsArb(targets: LongTarget[]): fc.Arbitrary<Edit[]> {
  return fc
    .constantFrom(...targets)
    .chain(({ path, prep, limit }) =>
      fc
        .tuple(
          fc.constantFrom("m", "é", "€", "𝟘"),
          fc.oneof(fc.integer({ min: 1, max: limit + 2 }), fc.integer({ min: limit - 64, max: limit + 2 })),
        )
        .map(([unit, length]): Edit[] => [...prep, { op: "long", path, unit, length }]),
    );
}
export const hostileEditsArb = () => longEditsArb(LONG_TARGETS);

/** A value nested up to `maxDepth` levels at one of `paths`. */
function deepEditArbAt(paths: Path[], maxDepth: number): fc.Arbitrary<Edit> {
  return fc
    .tuple(
      fc.constantFrom(...paths),
      fc.constantFrom("array" as const, "object" as const),
      fc.integer({ min: 1, max: maxDepth }),
    )
    .map(([path, shape, depth]): Edit => ({ op: "deep", path, shape, depth }));
}
export const deepEditArb = (maxDepth: number) =>
  deepEditArbAt(
    [
      ["x"],
      ["captureContext", "x"],
      ["requestHeader", "x"],
      ["captureContext"],
      ["mandateDetails"],
      ["amount"],
    ],
    maxDepth,
  );

// ---------------------------------------------------------------- valid requests

/** A union member with a plausible value, to put next to the one already there. */
const unionMemberArb: fc.Arbitrary<{ key: string; value: unknown }> = fc.constantFrom(
  { key: "googlePaymentToken", value: "gpt-demo-success" },
  { key: "mandateDetails", value: { mandateId: "mandate-demo-active" } },
  {
    key: "mandateWithNotificationDetails",
    value: { mandateId: "mandate-demo-active", upcomingTransactionNotificationId: "utn-demo-valid" },
  },
  { key: "authenticationRequestId", value: "auth-demo-main" },
  { key: "otpVerification", value: { sendOtpRequestId: "otp-demo-fresh", otp: "482913" } },
);

const identifierArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 64, unit: "binary" }),
  fc.stringMatching(/^[a-z0-9-]{1,30}$/),
);

export type Fop =
  | { googlePaymentToken: string }
  | { mandateDetails: { mandateId: string } }
  | { mandateWithNotificationDetails: { mandateId: string; upcomingTransactionNotificationId: string } };
export type Verification =
  | Record<string, never>
  | { authenticationRequestId: string }
  | { otpVerification: { sendOtpRequestId: string; otp: string } };

export const fopArb: fc.Arbitrary<Fop> = fc.oneof(
  identifierArb.map((googlePaymentToken) => ({ googlePaymentToken })),
  identifierArb.map((mandateId) => ({ mandateDetails: { mandateId } })),
  fc.tuple(identifierArb, identifierArb).map(([mandateId, upcomingTransactionNotificationId]) => ({
    mandateWithNotificationDetails: { mandateId, upcomingTransactionNotificationId },
  })),
);
export const verificationArb: fc.Arbitrary<Verification> = fc.oneof(
  fc.constant({}),
  identifierArb.map((authenticationRequestId) => ({ authenticationRequestId })),
  fc
    .tuple(identifierArb, identifierArb)
    .map(([sendOtpRequestId, otp]) => ({ otpVerification: { sendOtpRequestId, otp } })),
);

/**
 * The members both methods share, valid, plus up to two members the method does not know, laid out
 * as Google sends them (requestTimestamp is set from `now` when the case is built).
 */
const validPaymentArb = (knownKeys: Set<string>): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      requestId: fc.stringMatching(REQUEST_ID),
      minor: fc.oneof(fc.nat(), fc.maxSafeInteger(), fc.integer()),
      revision: fc.oneof(fc.nat(), fc.maxSafeInteger(), fc.integer()),
      piaid: identifierArb,
      description: fc.oneof(
        fc.string({ maxLength: 200, unit: "binary" }),
        fc.constant("x".repeat(4096)),
        fc.constant("𝟘".repeat(2048)),
      ),
      currencyCode: fc.constantFrom(...CURRENCIES),
      amount: fc.oneof(
        fc.bigInt({ min: 1n, max: INT64_MAX }),
        fc.constantFrom(1n, INT64_MAX, INT64_MAX - 1n, 728_000_000n),
      ),
      extra: fc.dictionary(
        fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !knownKeys.has(k) && k !== "__proto__"),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 2 },
      ),
    })
    .map((r) => ({
      ...r.extra,
      requestHeader: {
        protocolVersion: { major: 1, minor: r.minor, revision: r.revision },
        requestId: r.requestId,
        requestTimestamp: "0",
        userLocale: "en",
      },
      paymentIntegratorAccountId: r.piaid,
      transactionDescription: r.description,
      currencyCode: r.currencyCode,
      amount: String(r.amount),
    }));

/** Any capture request the protocol accepts. */
export const validRequestArb: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    payment: validPaymentArb(KNOWN_KEYS),
    ip: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
    fop: fopArb,
    verification: verificationArb,
  })
  .map((r) => ({
    ...r.payment,
    captureContext: r.ip === undefined ? {} : { userIpAddress: r.ip },
    ...r.fop,
    ...r.verification,
  }));

// ---------------------------------------------------------------- the demo fixture

interface DemoFixture {
  accounts: { accountId: string; currencies: Record<string, unknown> }[];
  tokens: { googlePaymentToken: string; accountId: string }[];
  mandates: { mandateId: string; accountId: string }[];
}
export const DEMO: DemoFixture = JSON.parse(
  readFileSync(new URL("../../infra/local/fixtures/demo-ledger.json", import.meta.url), "utf8"),
);

/** Forms of payment of the demo fixture (README table), and some it does not know. */
export const DEMO_FOPS: Fop[] = [
  ...DEMO.tokens.map((t) => ({ googlePaymentToken: t.googlePaymentToken })),
  { googlePaymentToken: UNKNOWN_TOKEN },
  ...DEMO.mandates.map((m) => ({ mandateDetails: { mandateId: m.mandateId } })),
  { mandateDetails: { mandateId: "mandate-fuzz-unknown" } },
  ...["utn-demo-valid", "utn-demo-expired", "utn-fuzz-unknown"].map((upcomingTransactionNotificationId) => ({
    mandateWithNotificationDetails: { mandateId: "mandate-demo-active", upcomingTransactionNotificationId },
  })),
  {
    mandateWithNotificationDetails: {
      mandateId: "mandate-demo-inactive",
      upcomingTransactionNotificationId: "utn-demo-valid",
    },
  },
];
export const DEMO_VERIFICATIONS: Verification[] = [
  {},
  { authenticationRequestId: "auth-demo-main" },
  { authenticationRequestId: "auth-fuzz-unknown" },
  { otpVerification: { sendOtpRequestId: "otp-demo-fresh", otp: "482913" } },
  { otpVerification: { sendOtpRequestId: "otp-demo-fresh", otp: WRONG_OTP } },
  { otpVerification: { sendOtpRequestId: "otp-demo-used", otp: "771205" } },
  { otpVerification: { sendOtpRequestId: "otp-fuzz-unknown", otp: WRONG_OTP } },
];
const DEMO_AMOUNTS = ["728000000", "150000000000", "500000", "95000000000", "1500000000", "1000000", "1"];

/** The PIAID the local stack serves (in INR). */
export const DEMO_PIAID = "InvisiCashIN_INR";
/** A request header as Google sends it (requestTimestamp is set from `now` when the case is built). */
const demoHeader = (requestId: () => string) => ({
  protocolVersion: { major: 1, minor: 0, revision: 0 },
  requestId: requestId(),
  requestTimestamp: "0",
});

/** The members both methods share, on the demo fixture (PIAID InvisiCashIN_INR, INR), any amount. */
const demoPaymentArb = (requestId: () => string): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      amount: fc.oneof(
        fc.constantFrom(...DEMO_AMOUNTS),
        // 1 to 1 000 INR: what the demo accounts and their limits mostly let through.
        { weight: 3, arbitrary: fc.bigInt({ min: 1_000_000n, max: 1_000_000_000n }).map(String) },
        fc.bigInt({ min: 1n, max: 10n ** 12n }).map(String),
        fc.bigInt({ min: 1n, max: INT64_MAX }).map(String),
      ),
      description: fc.string({ maxLength: 40, unit: "binary" }),
    })
    .map((r) => ({
      requestHeader: demoHeader(requestId),
      paymentIntegratorAccountId: DEMO_PIAID,
      transactionDescription: r.description,
      currencyCode: "INR",
      amount: r.amount,
    }));

/** A well-formed capture on the demo fixture, any instrument, any amount. */
export const demoRequestArb = (requestId: () => string): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      payment: demoPaymentArb(requestId),
      fop: fc.oneof(
        fc.constantFrom(...DEMO_FOPS),
        fc.constantFrom<Fop>(
          { googlePaymentToken: "gpt-demo-success" },
          { mandateDetails: { mandateId: "mandate-demo-active" } },
          { mandateWithNotificationDetails: MANDATE_WITH_UTN },
        ),
      ),
      verification: fc.oneof(
        { weight: 3, arbitrary: fc.constant({}) },
        { weight: 2, arbitrary: fc.constantFrom(...DEMO_VERIFICATIONS) },
      ),
      ip: fc.option(fc.constantFrom("203.0.113.7", "2001:db8::1"), { nil: undefined }),
    })
    .map((r) => ({
      ...r.payment,
      captureContext: r.ip === undefined ? {} : { userIpAddress: r.ip },
      ...r.fop,
      ...r.verification,
    }));

// ---------------------------------------------------------------- building

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The object at `path` in `root`, or undefined when something on the way is not an object. */
export function objectAt(root: unknown, path: Path): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const k of path) {
    if (!isObject(node) || !Object.hasOwn(node, k)) return undefined;
    node = node[k];
  }
  return isObject(node) ? node : undefined;
}
export function valueAt(root: unknown, path: Path): unknown {
  const parent = objectAt(root, path.slice(0, -1));
  const k = path.at(-1)!;
  return parent && Object.hasOwn(parent, k) ? parent[k] : undefined;
}

const DEEP = "\u0000deep\u0000";
/** A placeholder replaced by the deep text in `toJsonText` (no recursion, however deep). */
const deepMarker = (shape: string, depth: number) => `${DEEP}${shape}:${depth}`;

const define = (o: Record<string, unknown>, k: string, value: unknown) =>
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });

/** Sets path to value, creating absent parents; a no-op when a parent is there but not an object. */
function put(root: Record<string, unknown>, path: Path, value: unknown) {
  let node = root;
  for (const k of path.slice(0, -1)) {
    if (!Object.hasOwn(node, k)) define(node, k, {});
    const next = node[k];
    if (!isObject(next)) return;
    node = next;
  }
  define(node, path.at(-1)!, value);
}

/** Applies the edits to a deep copy of the base, stamped with `now`; returns the JSON text. */
export function buildWire({ base, edits }: Case, now: number): string {
  const body = structuredClone(base);
  const header = objectAt(body, ["requestHeader"]);
  if (header) header.requestTimestamp = String(now);
  for (const edit of edits) {
    switch (edit.op) {
      case "delete": {
        const parent = objectAt(body, edit.path.slice(0, -1));
        if (parent) delete parent[edit.path.at(-1)!];
        break;
      }
      case "set":
        put(body, edit.path, structuredClone(edit.value));
        break;
      case "timestamp":
        put(body, ["requestHeader", "requestTimestamp"], String(now + edit.offsetMs));
        break;
      case "long":
        put(body, edit.path, edit.unit.repeat(Math.ceil(edit.length / edit.unit.length)));
        break;
      case "deep":
        put(body, edit.path, deepMarker(edit.shape, edit.depth));
        break;
    }
  }
  return toJsonText(body);
}

export function toJsonText(body: unknown): string {
  return JSON.stringify(body).replace(
    new RegExp(`"${JSON.stringify(DEEP).slice(1, -1).replaceAll("\\", "\\\\")}(array|object):(\\d+)"`, "g"),
    (_m, shape: string, depth: string) => {
      const d = Number(depth);
      return shape === "array" ? "[".repeat(d) + "]".repeat(d) : `${'{"a":'.repeat(d)}{}${"}".repeat(d)}`;
    },
  );
}

// ---------------------------------------------------------------- asynchronousCapture

/** The top-level members both methods share (shared/protocol/common.ts `paymentEntries`). */
const PAYMENT_MEMBERS = new Set([
  "requestHeader",
  "paymentIntegratorAccountId",
  "transactionDescription",
  "currencyCode",
  "amount",
]);

/** The members of asynchronousCapture's fopDetails union (exactly one, non-null). */
export const ASYNC_FOP_MEMBERS = ["upiDetails", "tokenizedInstrumentDetails"] as const;
export const ASYNC_MISSING_FOP = `missing fopDetails (one of ${ASYNC_FOP_MEMBERS.join(", ")})`;

/** Every member the asynchronousCapture schema knows, with its JSON type. */
export const ASYNC_FIELDS: readonly FieldSpec[] = [
  ...FIELDS.filter((f) => PAYMENT_MEMBERS.has(f.path[0]!)),
  { path: ["upiDetails"], type: "object" },
  { path: ["upiDetails", "vpa"], type: "string" },
  { path: ["tokenizedInstrumentDetails"], type: "object" },
  { path: ["tokenizedInstrumentDetails", "googlePaymentToken"], type: "string" },
];
/** Members of asynchronousCapture that must be present whenever their parent is. */
export const ASYNC_REQUIRED = new Set([
  ...[...REQUIRED].filter((p) => PAYMENT_MEMBERS.has(p.split(".")[0]!)),
  "upiDetails.vpa",
  "tokenizedInstrumentDetails.googlePaymentToken",
]);
const ASYNC_KNOWN_KEYS = new Set(ASYNC_FIELDS.map((f) => f.path.at(-1)!));

/**
 * The documented VPA shape restated by hand, independently of VPA_PATTERN (NPCI: a handle of 1-255
 * letters, digits, '.', '-', '_' starting with a letter or digit; '@'; a PSP handle of 2-64 letters
 * and digits starting with a letter). ASCII only.
 */
export function isDocumentedVpa(s: string): boolean {
  const at = s.indexOf("@");
  if (at < 0 || s.includes("@", at + 1)) return false;
  const handle = s.slice(0, at);
  const psp = s.slice(at + 1);
  const letter = (c: string) => (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");
  const alnum = (c: string) => letter(c) || (c >= "0" && c <= "9");
  return (
    handle.length >= 1 &&
    handle.length <= 255 &&
    alnum(handle[0]!) &&
    [...handle].every((c) => alnum(c) || c === "." || c === "-" || c === "_") &&
    psp.length >= 2 &&
    psp.length <= 64 &&
    letter(psp[0]!) &&
    [...psp].every(alnum)
  );
}

interface DemoUpi {
  vpas: { vpa: string; accountId: string }[];
  accounts: { accountId: string; status: string }[];
}
/** The demo fixture's VPAs (README: customer@, lowbalance@, closed@, onhold@, fraud@, takenover@demobank). */
export const DEMO_VPAS = (DEMO as unknown as DemoUpi).vpas;
/** Status of each demo account (ACTIVE, CLOSED, ON_HOLD…). */
export const DEMO_ACCOUNT_STATUS = new Map(
  (DEMO as unknown as DemoUpi).accounts.map((a) => [a.accountId, a.status]),
);
export const UNKNOWN_VPA = "nobody@demobank";

const VPA_HANDLE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const VPA_PSP = /^[A-Za-z][A-Za-z0-9]{1,63}$/;
const handlePart: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(VPA_HANDLE) },
  fc.constantFrom(
    "",
    ".a",
    "-a",
    "_a",
    "a.b-c_d",
    "a b",
    "a+b",
    "é",
    "ａ",
    "сustomer", // Cyrillic с
    "a\u200b",
    "a\u0000",
    "😀",
    "a".repeat(255),
    "a".repeat(256),
  ),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{250,258}$/),
  fc.string({ minLength: 1, maxLength: 12, unit: "binary" }),
);
const pspPart: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(VPA_PSP) },
  fc.constantFrom(
    "",
    "b",
    "1bank",
    "_bank",
    "demo.bank",
    "demo-bank",
    "demobank ",
    "demobank\n",
    "ｄｅｍｏ",
    "dеmobank", // Cyrillic е
    "b".repeat(64),
    "b".repeat(65),
    "bank@x",
  ),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{60,66}$/),
  fc.string({ minLength: 1, maxLength: 8, unit: "binary" }),
);
/** VPA strings around every edge of the documented shape: valid ones, and each part broken. */
export const vpaString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(VPA_PATTERN) },
  fc.constantFrom(
    ...DEMO_VPAS.map((v) => v.vpa),
    UNKNOWN_VPA,
    "CUSTOMER@DEMOBANK",
    "Customer@DemoBank",
    "customer@demobank\n",
    " customer@demobank",
    "customer@@demobank",
    "customer＠demobank",
    "customer%40demobank",
    "customer",
    "@demobank",
    "customer@",
    "@",
    "",
  ),
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        handlePart,
        fc.oneof({ weight: 5, arbitrary: fc.constant("@") }, fc.constantFrom("", "@@", "＠")),
        pspPart,
      )
      .map(([h, at, p]) => `${h}${at}${p}`),
  },
  fc.string({ maxLength: 40, unit: "binary" }),
  fc.string({ maxLength: 20, unit: "grapheme" }).map((s) => `${s}@demobank`),
);

function asyncValueFor(path: Path, type: FieldType, maxString: number): fc.Arbitrary<unknown> {
  const dotted = path.join(".");
  const base = valueFor(path, type, maxString);
  if (dotted === "upiDetails.vpa") return fc.oneof(base, vpaString, vpaString);
  if (dotted === "upiDetails")
    return fc.oneof(
      base,
      vpaString.map((vpa) => ({ vpa })),
    );
  if (dotted === "tokenizedInstrumentDetails") {
    return fc.oneof(
      base,
      fc.constantFrom(...DEMO.tokens.map((t) => ({ googlePaymentToken: t.googlePaymentToken }))),
    );
  }
  return base;
}

/** A union member with a plausible value (or null, which counts as absent), to put next to the one there. */
const asyncUnionMemberArb: fc.Arbitrary<{ key: string; value: unknown }> = fc.constantFrom(
  { key: "upiDetails", value: { vpa: "customer@demobank" } },
  { key: "upiDetails", value: { vpa: "closed@demobank" } },
  { key: "tokenizedInstrumentDetails", value: { googlePaymentToken: "gpt-demo-success" } },
  { key: "tokenizedInstrumentDetails", value: { googlePaymentToken: UNKNOWN_TOKEN } },
  { key: "upiDetails", value: null },
  { key: "tokenizedInstrumentDetails", value: null },
);

const asyncUnknownKey = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !ASYNC_KNOWN_KEYS.has(k)),
  // Capture's members (and the union's own name) mean nothing to asynchronousCapture.
  fc.constantFrom(
    "__proto__",
    "constructor",
    "toString",
    "userLocale",
    "",
    "fopDetails",
    "googlePaymentToken",
    "captureContext",
    "mandateDetails",
    "otpVerification",
    "authenticationRequestId",
  ),
);

/** One edit of an asynchronousCapture request (a union member may also be nulled). */
export const asyncEditArb = ({ maxString = 40 }: EditOptions = {}): fc.Arbitrary<Edit> =>
  editArbFor(
    {
      fields: ASYNC_FIELDS,
      valueFor: asyncValueFor,
      unknownKey: asyncUnknownKey,
      unionMember: asyncUnionMemberArb,
    },
    maxString,
  );

const ASYNC_LONG_TARGETS: LongTarget[] = [
  { path: ["paymentIntegratorAccountId"], prep: [], limit: 2048 },
  {
    path: ["tokenizedInstrumentDetails", "googlePaymentToken"],
    prep: [
      del("upiDetails"),
      { op: "set", path: ["tokenizedInstrumentDetails"], value: { googlePaymentToken: "x" } },
    ],
    limit: 2048,
  },
  { path: ["transactionDescription"], prep: [], limit: 4096 },
];

/**
 * Strings up to and just past a field's limit in 1-4 byte characters (as `hostileEditsArb`), and
 * VPAs whose handle and PSP run up to and past theirs (255 and 64).
 */
export function asyncHostileEditsArb(): fc.Arbitrary<Edit[]> {
  const longVpa = fc
    .tuple(
      fc.constantFrom("m", "é", "𝟘", "m.", "m-"),
      fc.oneof(fc.integer({ min: 1, max: 257 }), fc.integer({ min: 250, max: 257 })),
      fc.oneof(fc.integer({ min: 1, max: 66 }), fc.integer({ min: 60, max: 66 })),
    )
    .map(([unit, handle, psp]): Edit[] => [
      del("tokenizedInstrumentDetails"),
      {
        op: "set",
        path: ["upiDetails"],
        value: { vpa: `${unit.repeat(handle).slice(0, handle)}@${"b".repeat(psp)}` },
      },
    ]);
  return fc.oneof(longEditsArb(ASYNC_LONG_TARGETS), longVpa);
}

export const asyncDeepEditArb = (maxDepth: number) =>
  deepEditArbAt(
    [
      ["x"],
      ["requestHeader", "x"],
      ["upiDetails"],
      ["upiDetails", "x"],
      ["tokenizedInstrumentDetails"],
      ["amount"],
    ],
    maxDepth,
  );

export type AsyncFop =
  | { upiDetails: { vpa: string } }
  | { tokenizedInstrumentDetails: { googlePaymentToken: string } };

/** Any asynchronousCapture request the protocol accepts. */
export const validAsynchronousCaptureRequestArb: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    payment: validPaymentArb(ASYNC_KNOWN_KEYS),
    fop: fc.oneof(
      fc.stringMatching(VPA_PATTERN).map((vpa): AsyncFop => ({ upiDetails: { vpa } })),
      identifierArb.map(
        (googlePaymentToken): AsyncFop => ({ tokenizedInstrumentDetails: { googlePaymentToken } }),
      ),
    ),
    /** The other member present as null (proto3 JSON writes an unset message so). */
    otherNull: fc.boolean(),
  })
  .map((r) => ({
    ...r.payment,
    ...r.fop,
    ...(r.otherNull && ("upiDetails" in r.fop ? { tokenizedInstrumentDetails: null } : { upiDetails: null })),
  }));

/** Forms of payment of the demo fixture for asynchronousCapture, and some it does not know. */
export const DEMO_ASYNC_FOPS: AsyncFop[] = [
  ...DEMO_VPAS.map((v) => ({ upiDetails: { vpa: v.vpa } })),
  { upiDetails: { vpa: UNKNOWN_VPA } },
  { upiDetails: { vpa: "Customer@DemoBank" } },
  ...DEMO.tokens.map((t) => ({ tokenizedInstrumentDetails: { googlePaymentToken: t.googlePaymentToken } })),
  { tokenizedInstrumentDetails: { googlePaymentToken: UNKNOWN_TOKEN } },
];

/** A well-formed asynchronousCapture on the demo fixture (PIAID InvisiCashIN_INR, INR), any instrument, any amount. */
export const demoAsynchronousCaptureRequestArb = (
  requestId: () => string,
): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      payment: demoPaymentArb(requestId),
      fop: fc.oneof(
        fc.constantFrom(...DEMO_ASYNC_FOPS),
        fc.constantFrom<AsyncFop>(
          { upiDetails: { vpa: "customer@demobank" } },
          { tokenizedInstrumentDetails: { googlePaymentToken: "gpt-demo-success" } },
        ),
      ),
      otherNull: fc.boolean(),
    })
    .map((r) => ({
      ...r.payment,
      ...r.fop,
      ...(r.otherNull &&
        ("upiDetails" in r.fop ? { tokenizedInstrumentDetails: null } : { upiDetails: null })),
    }));

/**
 * The account a demo form of payment names, or undefined when the fixture does not know it
 * (VPAs are looked up case-insensitively: the ledger keys them by the lower-cased address).
 */
export function demoAccountOf(fop: unknown): string | undefined {
  if (!isObject(fop)) return undefined;
  const upi = fop.upiDetails;
  if (isObject(upi) && typeof upi.vpa === "string") {
    const vpa = upi.vpa.toLowerCase();
    return DEMO_VPAS.find((v) => v.vpa === vpa)?.accountId;
  }
  const tokenized = fop.tokenizedInstrumentDetails;
  if (isObject(tokenized) && typeof tokenized.googlePaymentToken === "string") {
    const token = tokenized.googlePaymentToken;
    return DEMO.tokens.find((t) => t.googlePaymentToken === token)?.accountId;
  }
  return undefined;
}

// ---------------------------------------------------------------- refund

/** Every member the refund schema knows, with its JSON type: all of them required, none nullable. */
export const REFUND_FIELDS: readonly FieldSpec[] = [
  ...FIELDS.filter((f) => f.path[0] === "requestHeader"),
  { path: ["paymentIntegratorAccountId"], type: "string" },
  { path: ["captureRequestId"], type: "string" },
  { path: ["currencyCode"], type: "string" },
  { path: ["refundAmount"], type: "string" },
];
const REFUND_KNOWN_KEYS = new Set(REFUND_FIELDS.map((f) => f.path.at(-1)!));

function refundValueFor(path: Path, type: FieldType, maxString: number): fc.Arbitrary<unknown> {
  const base = valueFor(path, type, maxString);
  const dotted = path.join(".");
  if (dotted === "refundAmount") return fc.oneof(base, amountString, amountString, amountString);
  if (dotted === "captureRequestId") return fc.oneof(base, requestIdString, requestIdString);
  return base;
}

/** Member names refund does not know, among them those of the capture methods and of refundResultNotification. */
export const refundUnknownKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !REFUND_KNOWN_KEYS.has(k)),
  fc.constantFrom(
    "__proto__",
    "constructor",
    "toString",
    "userLocale",
    "",
    "amount",
    "transactionDescription",
    "googlePaymentToken",
    "refundRequestId",
    "refundResult",
    "paymentIntegratorRefundId",
    "paymentIntegratorTransactionId",
  ),
);

/** One edit of a refund request (no union: a field removed, retyped, nulled, an unknown one added, a clock skew). */
export const refundEditArb = ({ maxString = 40 }: EditOptions = {}): fc.Arbitrary<Edit> =>
  editArbFor({ fields: REFUND_FIELDS, valueFor: refundValueFor, unknownKey: refundUnknownKey }, maxString);

/** Identifiers up to and past their limits (1024 UTF-8 bytes; 100 characters for requestIds) in 1-4 byte characters. */
export const refundHostileEditsArb = () =>
  longEditsArb([
    { path: ["paymentIntegratorAccountId"], prep: [], limit: 1024 },
    { path: ["captureRequestId"], prep: [], limit: 100 },
    { path: ["requestHeader", "requestId"], prep: [], limit: 100 },
  ]);

export const refundDeepEditArb = (maxDepth: number) =>
  deepEditArbAt(
    [
      ["x"],
      ["requestHeader", "x"],
      ["requestHeader", "protocolVersion"],
      ["captureRequestId"],
      ["refundAmount"],
    ],
    maxDepth,
  );

/** Any refund request the protocol accepts (the capture members' generator, renamed and trimmed). */
export const validRefundRequestArb: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    payment: validPaymentArb(new Set([...REFUND_KNOWN_KEYS, ...PAYMENT_MEMBERS])),
    captureRequestId: fc.stringMatching(REQUEST_ID),
  })
  .map(({ payment: { transactionDescription: _d, amount, ...rest }, captureRequestId }) => ({
    ...rest,
    captureRequestId,
    refundAmount: amount,
  }));

/** Refund amounts for the demo stack: mostly small partial refunds, some whole captures, some far too large. */
export const demoRefundAmountArb: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 5, arbitrary: fc.bigInt({ min: 1n, max: 3_000_000n }) },
    fc.constantFrom(1n, 500_000n, 1_000_000n, 5_000_000n, 728_000_000n),
    fc.bigInt({ min: 1n, max: INT64_MAX }),
  )
  .map(String);

/** A well-formed refund on the demo stack of one of `captureRequestIds` (or of a capture it never saw). */
export const demoRefundRequestArb = (
  requestId: () => string,
  captureRequestIds: readonly string[],
): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      captureRequestId: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...captureRequestIds) },
        fc.stringMatching(REQUEST_ID),
      ),
      refundAmount: demoRefundAmountArb,
    })
    .map((r) => ({
      requestHeader: demoHeader(requestId),
      paymentIntegratorAccountId: DEMO_PIAID,
      captureRequestId: r.captureRequestId,
      currencyCode: "INR",
      refundAmount: r.refundAmount,
    }));

// ---------------------------------------------------------------- echo

/** Every member the echo schema knows (clientMessage: any string of up to 4096 UTF-16 units). */
export const ECHO_FIELDS: readonly FieldSpec[] = [
  ...FIELDS.filter((f) => f.path[0] === "requestHeader"),
  { path: ["clientMessage"], type: "string" },
];
const ECHO_KNOWN_KEYS = new Set(ECHO_FIELDS.map((f) => f.path.at(-1)!));
export const ECHO_MESSAGE_LIMIT = 4096;

/** Messages Google may probe with: any text, lone surrogates, control characters, JSON-looking text, at the limit. */
export const clientMessageArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200, unit: "binary" }),
  fc.string({ maxLength: 40, unit: "grapheme" }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\ud800",
    "a\udc00b",
    '{"requestHeader":{}}',
    "</script>",
    "\r\n",
    "m".repeat(ECHO_MESSAGE_LIMIT),
    "𝟘".repeat(ECHO_MESSAGE_LIMIT / 2),
  ),
);

export const echoEditArb = ({ maxString = 40 }: EditOptions = {}): fc.Arbitrary<Edit> =>
  editArbFor(
    {
      fields: ECHO_FIELDS,
      valueFor: (path, type, max) =>
        path[0] === "clientMessage"
          ? fc.oneof(valueFor(path, type, max), clientMessageArb)
          : valueFor(path, type, max),
      unknownKey: fc.oneof(
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !ECHO_KNOWN_KEYS.has(k)),
        fc.constantFrom("__proto__", "constructor", "serverMessage", "paymentIntegratorAccountId", ""),
      ),
    },
    maxString,
  );

export const echoHostileEditsArb = () =>
  longEditsArb([
    { path: ["clientMessage"], prep: [], limit: ECHO_MESSAGE_LIMIT },
    { path: ["requestHeader", "requestId"], prep: [], limit: 100 },
  ]);

export const echoDeepEditArb = (maxDepth: number) =>
  deepEditArbAt([["x"], ["requestHeader", "x"], ["clientMessage"]], maxDepth);

/** An echo request as Google sends it. */
export const demoEchoRequestArb = (requestId: () => string): fc.Arbitrary<Record<string, unknown>> =>
  clientMessageArb.map((clientMessage) => ({ requestHeader: demoHeader(requestId), clientMessage }));

// ---------------------------------------------------------------- corrupted wire bodies

export type Corruption =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; keep: number }
  | { kind: "append"; bytes: Uint8Array }
  | { kind: "random"; bytes: Uint8Array; padded: boolean }
  | { kind: "text"; text: string }
  | { kind: "char"; at: number; char: string }
  | { kind: "base64" }
  | { kind: "empty"; text: string };
/** A position in the message, uniform (modulo its length; fast-check would favour the first bytes). */
const anywhere = fc.noBias(fc.nat());
/** What can happen to a sealed wire body on its way (the same mix as the capture fuzz test's). */
export const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip"), at: anywhere, bit: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate"), keep: anywhere }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("append"),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("random"),
      bytes: fc.uint8Array({ maxLength: 2048 }),
      padded: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("text"), text: fc.string({ maxLength: 200, unit: "binary" }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("char"),
      at: anywhere,
      char: fc.constantFrom("+", "/", "=", " ", ".", "é", "\n", "%"),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "base64" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("empty"),
      text: fc.constantFrom("", " ", "\n", "=", "==", "A", "AA=="),
    }),
  },
);
export const wireContentTypeArb = fc.constantFrom(
  "application/octet-stream; charset=utf-8",
  "application/octet-stream",
  "application/json",
  "text/plain; charset=utf-8",
  undefined,
);

/** Applies a corruption to a sealed wire body (base64url text). */
export function corruptWire(wire: string, c: Corruption): string {
  const bytes = Buffer.from(wire, "base64url");
  switch (c.kind) {
    case "flip": {
      const i = c.at % bytes.length;
      bytes[i] = bytes[i]! ^ (1 << c.bit);
      return bytes.toString("base64url");
    }
    case "truncate":
      return bytes.subarray(0, c.keep % bytes.length).toString("base64url");
    case "append":
      return Buffer.concat([bytes, c.bytes]).toString("base64url");
    case "random": {
      const text = Buffer.from(c.bytes).toString("base64url");
      return c.padded ? text.padEnd(Math.ceil(text.length / 4) * 4, "=") : text;
    }
    case "text":
      return c.text;
    case "char": {
      const i = c.at % wire.length;
      return wire.slice(0, i) + c.char + wire.slice(i + 1);
    }
    case "base64":
      return bytes.toString("base64");
    case "empty":
      return c.text;
  }
}
