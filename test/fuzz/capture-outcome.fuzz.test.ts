import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { DEMO_LEDGER, type LocalStack } from "../../infra/local/stack.ts";
import {
  NotificationResultCode,
  ReportedFailureCode,
} from "../../shared/protocol/capture-result-notification.ts";
import { INT64_MAX } from "../../shared/protocol/money.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  PIAID,
  reportOutcome,
  requestId,
  until,
} from "../support/google.ts";
import { capturedLogs } from "../support/log-capture.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";
import {
  type AsyncFop,
  buildWire,
  DEMO_ACCOUNT_STATUS,
  DEMO_VPAS,
  demoAccountOf,
  type Edit,
  otherTypeValue,
  type Path,
} from "./arbitraries.ts";
import { brief, demoBalances, postRaw } from "./stack-checks.ts";

/**
 * The internal outcome route (POST /internal/v1/captureOutcome) over HTTP on the real local stack:
 * arbitrary and mutated outcome bodies against acknowledged asynchronous captures (and against
 * synchronous ones, immediate declines, expired and unknown captures), some sent again, some
 * conflicting, some racing. Every answer is the documented one for the capture's recorded state:
 * never a 5xx; 200 with the recorded outcome, or 400 INVALID_OUTCOME, 404 UNKNOWN_CAPTURE, 409
 * NOT_ASYNCHRONOUS / ALREADY_DECIDED / CAPTURE_EXPIRED, or 403 without the token. An outcome is
 * recorded once; the ledger moves by exactly the SUCCESS approvals, never twice for one capture;
 * Google is told exactly the recorded result of each decided capture and of nothing else.
 */
const stack: LocalStack = await startTestStack(import.meta.filename);
/** A stack whose captures expire the moment they are acknowledged (deadline 0 s; no sweeper). */
const expiring: LocalStack = await startTestStack(import.meta.filename, {
  captureDeadlineSeconds: 0,
  sweepIntervalMs: 0,
});
/**
 * A stack whose captures are due 5 s after their acknowledgement (no sweeper): an outcome reported at
 * once is well within it, so a CAPTURE_EXPIRED there means the request ran until the deadline.
 */
const short: LocalStack = await startTestStack(import.meta.filename, {
  captureDeadlineSeconds: 5,
  sweepIntervalMs: 0,
});
const STACKS = { main: stack, expiring, short } as const;
type On = keyof typeof STACKS;
const SECRETS = allSecrets();
const before = {
  main: await demoBalances(stack),
  expiring: await demoBalances(expiring),
  short: await demoBalances(short),
};

// ---------------------------------------------------------------- the fixture, as the README documents it

interface FixtureCurrency {
  balance: string;
  transactionMax?: string;
  transactionMin?: string;
  dailyMax?: string;
  monthlyMax?: string;
  monthlyCountMax?: number;
}
interface FixtureAccount {
  accountId: string;
  status: string;
  fundingSource?: string;
  currencies: Record<string, FixtureCurrency>;
  risk?: { declineAmountAtOrAbove?: string };
}
const FIXTURE = JSON.parse(readFileSync(DEMO_LEDGER, "utf8")) as {
  accounts: FixtureAccount[];
  tokens: { googlePaymentToken: string; accountId: string; status: string }[];
};
const ACCOUNTS = new Map(FIXTURE.accounts.map((a) => [a.accountId, a]));
const TOKEN_STATUS = new Map(FIXTURE.tokens.map((t) => [t.googlePaymentToken, t.status]));
/** Every instrument of the fixture asynchronousCapture knows: acknowledged, or declined at once. */
const KNOWN_FOPS: AsyncFop[] = [
  ...DEMO_VPAS.map((v) => ({ upiDetails: { vpa: v.vpa } })),
  ...FIXTURE.tokens.map((t) => ({
    tokenizedInstrumentDetails: { googlePaymentToken: t.googlePaymentToken },
  })),
];
const INR = 1_000_000n;

// ---------------------------------------------------------------- the model: what each capture is

type Outcome =
  | { kind: "APPROVED" }
  | { kind: "FAILED"; captureResultCode: string; rawResult: { scope?: string; rawCode: string } };
type CaptureResult = Record<string, unknown> & { captureResultCode: string };

interface Capture {
  on: On;
  captureRequestId: string;
  sync: boolean;
  /** The answer to the capture itself: ACKNOWLEDGED, an immediate decline, or (sync) CHARGE_UNDER_LIMIT. */
  result: string;
  paymentIntegratorTransactionId: string;
  amount: bigint;
  account: string;
  tokenStatus: string | undefined;
  /** The first outcome recorded, and the result it was given. */
  decided?: { outcome: Outcome; captureResult: CaptureResult };
  /** A well-formed outcome reached it after its deadline: Google is told CAPTURE_REQUEST_EXPIRED. */
  expired?: boolean;
}
const captures: Capture[] = [];
const byKey = new Map<string, Capture>();
const modelKey = (on: On, piaid: string, id: string) => `${on} ${piaid}#${id}`;
/** SUCCESS approvals (the first answer that recorded each), per "stack account": what the ledger must have moved. */
const debits = new Map<string, bigint>();
const debitKey = (c: Capture) => `${c.on} ${c.account}`;
const tally = { requests: 0, answers: new Map<string, number>(), decided: 0, success: 0 };

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);
const isIdentifier = (x: unknown): x is string =>
  typeof x === "string" && x.length >= 1 && Buffer.byteLength(x, "utf8") <= 1024;
/** A captureRequestId is Google's requestId of the capture (README; the route refuses anything else, 400). */
const isCaptureRequestId = (x: unknown): x is string =>
  typeof x === "string" && /^[a-zA-Z0-9:_-]{1,100}$/.test(x);
/** rawResult.rawCode and .scope: 1-64 printable ASCII characters, as the route documents. */
const isRawText = (x: unknown): x is string => typeof x === "string" && /^[\x20-\x7E]{1,64}$/.test(x);

/**
 * The outcome a body reports, as the route documents its body (README: APPROVED, or FAILED with one
 * of the reportable codes and a rawResult {scope?, rawCode}); undefined when it is not one. Unknown
 * members are ignored.
 */
function reportedOutcome(body: unknown): Outcome | undefined {
  if (!isPlainObject(body)) return undefined;
  if (!isIdentifier(body.paymentIntegratorAccountId) || !isCaptureRequestId(body.captureRequestId))
    return undefined;
  if (body.outcome === "APPROVED") return { kind: "APPROVED" };
  if (body.outcome !== "FAILED") return undefined;
  const code = body.captureResultCode;
  if (typeof code !== "string" || !(ReportedFailureCode as readonly string[]).includes(code))
    return undefined;
  const raw = body.rawResult;
  if (!isPlainObject(raw) || !isRawText(raw.rawCode)) return undefined;
  if (raw.scope !== undefined && !isRawText(raw.scope)) return undefined;
  return {
    kind: "FAILED",
    captureResultCode: code,
    rawResult: { ...(raw.scope !== undefined && { scope: raw.scope }), rawCode: raw.rawCode },
  };
}

/** The contract is exact now: anything longer than 64 printable characters is refused 400 (see reportedOutcome). */
const mayBeRefusedForSize = (_o: Outcome) => false;

type Expected =
  | { status: 403 }
  | { status: 400 | 404 | 409; error: string; alternatives?: { status: number; error: string }[] }
  | { status: 200; capture: Capture; outcome: Outcome; first: boolean; orInvalid: boolean };

function expectedAnswer(on: On, body: unknown, authorised: boolean): Expected {
  if (!authorised) return { status: 403 };
  const outcome = reportedOutcome(body);
  if (!outcome) return { status: 400, error: "INVALID_OUTCOME" };
  const { paymentIntegratorAccountId: piaid, captureRequestId: id } = body as Record<string, string>;
  const c = byKey.get(modelKey(on, piaid!, id!));
  const orInvalid = mayBeRefusedForSize(outcome);
  const invalid = orInvalid ? [{ status: 400, error: "INVALID_OUTCOME" }] : [];
  if (!c) {
    // No capture has this key; one too long to be a key at all may also be refused as invalid.
    const keyBytes = Buffer.byteLength(`${piaid}#${id}`, "utf8");
    const alternatives = keyBytes > 2048 ? [{ status: 400, error: "INVALID_OUTCOME" }] : invalid;
    return { status: 404, error: "UNKNOWN_CAPTURE", alternatives };
  }
  if (c.sync) return { status: 409, error: "NOT_ASYNCHRONOUS", alternatives: invalid };
  if (c.result !== "ACKNOWLEDGED") return { status: 409, error: "ALREADY_DECIDED", alternatives: invalid };
  if (c.on === "expiring") return { status: 409, error: "CAPTURE_EXPIRED", alternatives: invalid };
  if (!c.decided) return { status: 200, capture: c, outcome, first: true, orInvalid };
  if (!sameOutcome(c.decided.outcome, outcome))
    return { status: 409, error: "ALREADY_DECIDED", alternatives: invalid };
  return { status: 200, capture: c, outcome, first: false, orInvalid };
}

const canonical = (o: Outcome) =>
  o.kind === "APPROVED"
    ? "APPROVED"
    : JSON.stringify([o.captureResultCode, o.rawResult.scope ?? null, o.rawResult.rawCode]);
const sameOutcome = (a: Outcome, b: Outcome) => canonical(a) === canonical(b);

/** The model's balance of the capture's account on its stack: the fixture's, less the SUCCESS approvals. */
const balanceOf = (c: Capture) =>
  BigInt(ACCOUNTS.get(c.account)!.currencies.INR!.balance) - (debits.get(debitKey(c)) ?? 0n);

/**
 * The result of an approval, by the documented order of the ledger rules (README): token state →
 * currency held → funding source → per-transaction max / min → risk → daily → monthly → balance,
 * in the notification's words. Spend counters and balances are only bounded (other approvals move them).
 */
function assertApprovalResult(c: Capture, got: CaptureResult) {
  const exactly = (captureResultCode: string, rawCode: string, extra: Record<string, string> = {}) =>
    assert.deepEqual(got, { captureResultCode, rawResult: { scope: "LEDGER", rawCode }, ...extra });
  const account = ACCOUNTS.get(c.account)!;
  if (c.tokenStatus === "INVALIDATED_BY_USER")
    return exactly("DECLINED_BY_ISSUER", "TOKEN_INVALIDATED_BY_USER");
  if (c.tokenStatus === "REFRESH_REQUIRED") return exactly("DECLINED_BY_ISSUER", "TOKEN_REFRESH_REQUIRED");
  const inr = account.currencies.INR;
  if (!inr) return exactly("DECLINED_BY_ISSUER", "CURRENCY_NOT_HELD");
  if (account.fundingSource === "NONE") return exactly("DECLINED_BY_ISSUER", "NO_FUNDING_SOURCE");
  if (account.fundingSource === "UNAVAILABLE") return exactly("DECLINED_BY_ISSUER", "FUNDING_SOURCE_DOWN");
  const amount = c.amount;
  const limit = (s: string | undefined) => (s === undefined ? undefined : BigInt(s));
  const max = limit(inr.transactionMax);
  const min = limit(inr.transactionMin);
  const risk = limit(account.risk?.declineAmountAtOrAbove);
  const daily = limit(inr.dailyMax);
  if (max !== undefined && amount > max)
    return exactly("CHARGE_EXCEEDS_TRANSACTION_LIMIT", "OVER_TRANSACTION_MAX", {
      transactionMaxLimit: String(max),
    });
  if (min !== undefined && amount < min)
    return exactly("CHARGE_UNDER_TRANSACTION_LIMIT", "UNDER_TRANSACTION_MIN", {
      transactionMinLimit: String(min),
    });
  if (risk !== undefined && amount >= risk) return exactly("SUSPECTED_FRAUD", "RISK_AMOUNT_THRESHOLD");
  if (daily !== undefined && amount > daily) return exactly("CHARGE_EXCEEDS_DAILY_LIMIT", "OVER_DAILY_MAX");
  // From here the answer depends on what earlier approvals spent.
  switch (got.captureResultCode) {
    case "SUCCESS":
      assert.deepEqual(got, { captureResultCode: "SUCCESS" });
      // Booked already: within the balance iff what is left is not negative.
      assert.ok(balanceOf(c) >= 0n, `SUCCESS only within the balance (${c.amount} on ${c.account})`);
      return;
    case "CHARGE_EXCEEDS_DAILY_LIMIT":
      assert.ok(daily !== undefined, "a daily limit is configured");
      return exactly("CHARGE_EXCEEDS_DAILY_LIMIT", "OVER_DAILY_MAX");
    case "CHARGE_EXCEEDS_MONTHLY_LIMIT":
      assert.ok(inr.monthlyMax !== undefined, "a monthly limit is configured");
      return exactly("CHARGE_EXCEEDS_MONTHLY_LIMIT", "OVER_MONTHLY_MAX");
    case "MONTHLY_FREQUENCY_LIMIT_EXCEEDED":
      assert.ok(inr.monthlyCountMax !== undefined, "a monthly count limit is configured");
      return exactly("MONTHLY_FREQUENCY_LIMIT_EXCEEDED", "OVER_MONTHLY_COUNT");
    case "INSUFFICIENT_FUNDS":
      assert.ok(amount > balanceOf(c), "INSUFFICIENT_FUNDS only beyond the balance");
      return exactly("INSUFFICIENT_FUNDS", "BALANCE_TOO_LOW", {
        currentBalance: String(balanceOf(c)),
      });
    default:
      assert.fail(`${got.captureResultCode} is not a result an approval can have on ${c.account}`);
  }
}

type Answer = { status: number; body: Record<string, unknown> };

/** Checks one answer against the model, and books what it recorded. */
function check(on: On, sent: string, authorised: boolean, answer: Answer) {
  tally.requests += 1;
  const what = `${on} stack, body ${brief(sent)}\nanswer ${answer.status} ${brief(JSON.stringify(answer.body), 300)}`;
  assert.ok(answer.status < 500, `never a 5xx\n${what}`);
  let body: unknown;
  try {
    body = JSON.parse(sent);
  } catch {
    body = undefined;
  }
  const expected = expectedAnswer(on, body, authorised);
  book(on, answer);
  const label =
    answer.status === 200 ? "200" : `${answer.status} ${answer.body.error ?? answer.body.message}`;
  tally.answers.set(label, (tally.answers.get(label) ?? 0) + 1);
  if (expected.status === 403) {
    assert.deepEqual(answer, { status: 403, body: { message: "Forbidden" } }, what);
    return;
  }
  if (expected.status !== 200) {
    const allowed = [{ status: expected.status, error: expected.error }, ...(expected.alternatives ?? [])];
    assert.ok(
      allowed.some((a) => a.status === answer.status && a.error === answer.body.error),
      `expected ${allowed.map((a) => `${a.status} ${a.error}`).join(" or ")}\n${what}`,
    );
    assert.deepEqual(Object.keys(answer.body).sort(), ["error", "message"], what);
    assert.equal(typeof answer.body.message, "string");
    return;
  }
  if (expected.orInvalid && answer.status === 400 && answer.body.error === "INVALID_OUTCOME") return;
  const c = expected.capture;
  if (answer.status === 409 && answer.body.error === "CAPTURE_EXPIRED") {
    assert.fail(
      `CAPTURE_EXPIRED for a capture whose deadline was ahead when the outcome was sent: the request ran until the deadline\n${what}`,
    );
  }
  assert.equal(answer.status, 200, `expected 200\n${what}`);
  assert.deepEqual(
    Object.keys(answer.body).sort(),
    [
      "captureRequestId",
      "captureResult",
      "outcome",
      "paymentIntegratorAccountId",
      "paymentIntegratorTransactionId",
      "repeated",
    ],
    what,
  );
  assert.equal(answer.body.paymentIntegratorAccountId, PIAID);
  assert.equal(answer.body.captureRequestId, c.captureRequestId);
  assert.equal(answer.body.paymentIntegratorTransactionId, c.paymentIntegratorTransactionId);
  const captureResult = answer.body.captureResult as CaptureResult;
  if (!expected.first) {
    assert.equal(answer.body.repeated, true, `the same outcome again is a repeat\n${what}`);
    assert.deepEqual(answer.body.outcome, c.decided!.outcome, what);
    assert.deepEqual(captureResult, c.decided!.captureResult, `a repeat has the recorded result\n${what}`);
    return;
  }
  assert.equal(answer.body.repeated, false, what);
  assert.deepEqual(answer.body.outcome, expected.outcome, what);
  assert.ok(NotificationResultCode.includes(captureResult.captureResultCode as never), what);
  if (expected.outcome.kind === "FAILED") {
    const { captureResultCode, rawResult } = expected.outcome;
    assert.deepEqual(
      captureResult,
      { captureResultCode, rawResult },
      `a failure is told as reported\n${what}`,
    );
  } else {
    assertApprovalResult(c, captureResult);
  }
}

/**
 * Books what a 200 says it recorded, before anything is asserted (so the model follows the service
 * even past a failed assertion): the first outcome of a capture, and its debit when it was a SUCCESS.
 * A second first (repeated: false) is not booked: the property fails on it, and the ledger check too
 * if money moved twice.
 */
function book(on: On, answer: Answer) {
  if (answer.status !== 200 || answer.body.repeated !== false) return;
  const c = byKey.get(modelKey(on, PIAID, String(answer.body.captureRequestId)));
  if (!c || c.decided) return;
  const captureResult = answer.body.captureResult as CaptureResult;
  c.decided = { outcome: answer.body.outcome as Outcome, captureResult };
  tally.decided += 1;
  if (captureResult?.captureResultCode === "SUCCESS") {
    tally.success += 1;
    debits.set(debitKey(c), (debits.get(debitKey(c)) ?? 0n) + c.amount);
  }
}

/** Books the expiry an outcome answered CAPTURE_EXPIRED caused (Google is told so), before anything is asserted. */
function noteExpiry(on: On, sent: string, authorised: boolean, answer: Answer) {
  if (!authorised || answer.status !== 409 || answer.body.error !== "CAPTURE_EXPIRED") return;
  // A CAPTURE_EXPIRED answer means the body was a well-formed outcome for a known capture.
  const body = JSON.parse(sent) as Record<string, string>;
  const c = byKey.get(modelKey(on, body.paymentIntegratorAccountId!, body.captureRequestId!));
  if (c) c.expired = true;
}

// ---------------------------------------------------------------- sending

type Auth = "token" | "wrong" | "other" | "none";

/** Sends an outcome body (JSON text) as the integrator's systems do; other credentials straight to the gateway. */
async function sendOutcome(
  on: On,
  text: string,
  auth: Auth = "token",
  contentType?: string,
): Promise<Answer> {
  const s = STACKS[on];
  let answer: Answer;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (auth === "token" && isPlainObject(parsed) && contentType === undefined) {
    const body = parsed as Record<string, unknown>;
    // reportOutcome fills in the PIAID; a body that lacks one must still lack it.
    if (!Object.hasOwn(body, "paymentIntegratorAccountId")) body.paymentIntegratorAccountId = undefined;
    answer = await reportOutcome(s, body);
  } else {
    const authorization = {
      token: `Bearer ${s.outcomeToken}`,
      wrong: `Bearer ${s.outcomeToken}x`,
      // The other stack's token: as long as this one's, not this one's.
      other: `Bearer ${(on === "main" ? expiring : stack).outcomeToken}`,
      none: undefined,
    }[auth];
    const reply = await postRaw(s.url, "/internal/v1/captureOutcome", text, {
      "content-type": contentType ?? "application/json",
      authorization,
    });
    answer = { status: reply.status, body: JSON.parse(reply.text || "{}") as Record<string, unknown> };
  }
  noteExpiry(on, text, auth === "token", answer);
  check(on, text, auth === "token", answer);
  return answer;
}

// ---------------------------------------------------------------- captures to report on

interface CaptureSpec {
  on: On;
  sync: boolean;
  fop: AsyncFop;
  amount: bigint;
}
const captureSpecArb: fc.Arbitrary<CaptureSpec> = fc.record({
  on: fc.oneof({ weight: 6, arbitrary: fc.constant<On>("main") }, fc.constant<On>("expiring")),
  sync: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, fc.constant(true)),
  fop: fc.oneof(
    { weight: 3, arbitrary: fc.constant<AsyncFop>({ upiDetails: { vpa: "customer@demobank" } }) },
    { weight: 4, arbitrary: fc.constantFrom(...KNOWN_FOPS) },
  ),
  amount: fc.oneof(
    // 1 to 1 000 INR: what the demo accounts mostly let through.
    { weight: 4, arbitrary: fc.bigInt({ min: INR, max: 1_000n * INR }) },
    fc.constantFrom(500_000n, 150_000n * INR, 95_000n * INR, 1_500n * INR, 100n * INR, 100n * INR + 1n),
    fc.bigInt({ min: 1n, max: INT64_MAX }),
  ),
});

/** Makes the capture on its stack: an asynchronousCapture (acknowledged or declined at once), or a synchronous decline. */
async function makeCapture(spec: CaptureSpec): Promise<Capture> {
  const s = STACKS[spec.on];
  const id = requestId("fz-out");
  let c: Capture;
  if (spec.sync) {
    // A synchronous capture that moves no money (CHARGE_UNDER_LIMIT).
    const reply = await capture(s.url, captureRequest({ amount: "500000" }, id));
    assert.deepEqual([reply.status, reply.body.result], [200, "CHARGE_UNDER_LIMIT"]);
    c = {
      on: spec.on,
      captureRequestId: id,
      sync: true,
      result: "CHARGE_UNDER_LIMIT",
      paymentIntegratorTransactionId: String(reply.body.paymentIntegratorTransactionId),
      amount: 500_000n,
      account: "acct-demo-main",
      tokenStatus: "ACTIVE",
    };
  } else {
    const body = asynchronousCaptureRequest(
      { upiDetails: undefined, ...spec.fop, amount: String(spec.amount) },
      id,
    );
    const reply = await asynchronousCapture(s.url, body);
    const account = demoAccountOf(spec.fop)!;
    const status = DEMO_ACCOUNT_STATUS.get(account)!;
    const result = status === "ACTIVE" ? "ACKNOWLEDGED" : `ACCOUNT_${status}`;
    assert.deepEqual([reply.status, reply.body.result], [200, result], brief(reply.text));
    const token =
      "tokenizedInstrumentDetails" in spec.fop
        ? spec.fop.tokenizedInstrumentDetails.googlePaymentToken
        : undefined;
    c = {
      on: spec.on,
      captureRequestId: id,
      sync: false,
      result,
      paymentIntegratorTransactionId: String(reply.body.paymentIntegratorTransactionId),
      amount: spec.amount,
      account,
      tokenStatus: token === undefined ? undefined : TOKEN_STATUS.get(token),
    };
  }
  captures.push(c);
  byKey.set(modelKey(c.on, PIAID, c.captureRequestId), c);
  return c;
}

// ---------------------------------------------------------------- outcome bodies

const REPORTED = [...ReportedFailureCode];
const rawCodeArb = fc.oneof(
  fc.constantFrom("U16", "Z6", "ZM", "U30", "XY-1"),
  fc.string({ minLength: 1, maxLength: 12, unit: "binary" }),
  fc.constantFrom("\u0000", "a\ud800b", "\udc00", "é😀", " "),
);
type OutcomeBase = Record<string, unknown>;
const outcomeBaseArb: fc.Arbitrary<OutcomeBase> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ outcome: "APPROVED" }) },
  {
    weight: 2,
    arbitrary: fc.record({
      outcome: fc.constant("FAILED"),
      captureResultCode: fc.constantFrom(...REPORTED),
      rawResult: fc.record(
        { scope: fc.constantFrom("NPCI", "LEDGER", "", "visa"), rawCode: rawCodeArb },
        { requiredKeys: ["rawCode"] },
      ),
    }),
  },
);

const OUTCOME_FIELDS: readonly { path: Path; type: "string" | "object" }[] = [
  { path: ["paymentIntegratorAccountId"], type: "string" },
  { path: ["captureRequestId"], type: "string" },
  { path: ["outcome"], type: "string" },
  { path: ["captureResultCode"], type: "string" },
  { path: ["rawResult"], type: "object" },
  { path: ["rawResult", "scope"], type: "string" },
  { path: ["rawResult", "rawCode"], type: "string" },
];
const EDGES: Record<string, fc.Arbitrary<unknown>> = {
  paymentIntegratorAccountId: fc.constantFrom(PIAID, "invisicashin_inr", `${PIAID} `, "OtherPIAID_INR", ""),
  captureRequestId: fc.constantFrom("", " ", "no-such-capture", "fz-out-0"),
  outcome: fc.constantFrom(
    "APPROVED",
    "FAILED",
    "approved",
    "APPROVED ",
    "SUCCESS",
    "EXPIRED",
    "DECLINED",
    "",
  ),
  captureResultCode: fc.constantFrom(...REPORTED, ...NotificationResultCode, "invalid_pin", ""),
  rawResult: fc.constantFrom(
    {},
    { rawCode: "U16" },
    { rawCode: "" },
    { scope: "NPCI" },
    { rawCode: "U16", x: 1 },
  ),
  "rawResult.scope": fc.constantFrom("", "NPCI", " "),
  "rawResult.rawCode": fc.oneof(rawCodeArb, fc.constant("")),
};
function outcomeValue(path: Path, type: "string" | "object"): fc.Arbitrary<unknown> {
  const dotted = path.join(".");
  const edges: fc.Arbitrary<unknown>[] = [
    otherTypeValue(type),
    fc.constant(null),
    EDGES[dotted]!,
    EDGES[dotted]!,
  ];
  if (type === "string") edges.push(fc.string({ maxLength: 40, unit: "binary" }));
  return fc.oneof(...edges);
}
const outcomeEditArb: fc.Arbitrary<Edit> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(...OUTCOME_FIELDS).map((f): Edit => ({ op: "delete", path: f.path })),
  },
  {
    weight: 5,
    arbitrary: fc
      .constantFrom(...OUTCOME_FIELDS)
      .chain((f) => outcomeValue(f.path, f.type).map((value): Edit => ({ op: "set", path: f.path, value }))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom<Path>([], ["rawResult"]),
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 10 }),
          fc.constantFrom("__proto__", "kind", "repeated"),
        ),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([parent, k, value]): Edit => ({ op: "set", path: [...parent, k], value })),
  },
);
const bodyArb = fc.record({
  base: outcomeBaseArb,
  edits: fc.oneof(
    { weight: 3, arbitrary: fc.constant<Edit[]>([]) },
    { weight: 2, arbitrary: fc.array(outcomeEditArb, { minLength: 1, maxLength: 2 }) },
  ),
});
type Body = { base: OutcomeBase; edits: Edit[] };

/** Whom a step reports on: the run's own capture, an earlier one (any stack, any kind), or no capture at all. */
type Target = { kind: "this" } | { kind: "earlier"; index: number } | { kind: "unknown"; id: string };
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Target>({ kind: "this" }) },
  { weight: 2, arbitrary: fc.nat().map((index): Target => ({ kind: "earlier", index })) },
  {
    weight: 1,
    arbitrary: fc.stringMatching(/^[a-zA-Z0-9:_-]{1,40}$/).map((id): Target => ({ kind: "unknown", id })),
  },
);
const authArb = fc.oneof(
  { weight: 14, arbitrary: fc.constant<Auth>("token") },
  fc.constantFrom<Auth>("wrong", "other", "none"),
);

type Step =
  | { kind: "send"; target: Target; body: Body; auth: Auth }
  /** The previous body once more, to the same capture (its members in the same order, or reversed). */
  | { kind: "again"; reversed: boolean }
  /** Well-formed outcomes (the same one, or conflicting ones) for the run's capture, all at once. */
  | { kind: "race"; outcomes: OutcomeBase[] };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("send" as const),
      target: targetArb,
      body: bodyArb,
      auth: authArb,
    }),
  },
  { weight: 2, arbitrary: fc.boolean().map((reversed): Step => ({ kind: "again", reversed })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc
          .tuple(outcomeBaseArb, fc.integer({ min: 2, max: 3 }))
          .map(([o, n]) => Array<OutcomeBase>(n).fill(o)),
        fc.array(outcomeBaseArb, { minLength: 2, maxLength: 3 }),
      )
      .map((outcomes): Step => ({ kind: "race", outcomes })),
  },
);

function targetOf(t: Target, own: Capture): { on: On; id: string } {
  if (t.kind === "this") return { on: own.on, id: own.captureRequestId };
  if (t.kind === "unknown") return { on: "main", id: `fz-unknown-${t.id}` };
  const c = captures[t.index % captures.length]!;
  return { on: c.on, id: c.captureRequestId };
}
const wire = (id: string, body: Body) =>
  buildWire(
    { base: { paymentIntegratorAccountId: PIAID, captureRequestId: id, ...body.base }, edits: body.edits },
    0,
  );

/** The same JSON with every object's members in reverse order (the same outcome, said differently). */
function reversedMembers(text: string): string {
  const reverse = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(reverse);
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).reverse()) {
      Object.defineProperty(out, k, {
        value: reverse(value[k]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return JSON.stringify(reverse(JSON.parse(text)));
}

async function runSteps(own: Capture, steps: Step[]) {
  let previous: { on: On; text: string; auth: Auth } | undefined;
  for (const step of steps) {
    if (step.kind === "send") {
      const { on, id } = targetOf(step.target, own);
      previous = { on, text: wire(id, step.body), auth: step.auth };
      await sendOutcome(previous.on, previous.text, previous.auth);
    } else if (step.kind === "again") {
      previous ??= {
        on: own.on,
        text: wire(own.captureRequestId, { base: { outcome: "APPROVED" }, edits: [] }),
        auth: "token",
      };
      await sendOutcome(
        previous.on,
        step.reversed ? reversedMembers(previous.text) : previous.text,
        previous.auth,
      );
    } else {
      const texts = step.outcomes.map((o) => wire(own.captureRequestId, { base: o, edits: [] }));
      const s = STACKS[own.on];
      const answers = await Promise.all(
        texts.map((t) => reportOutcome(s, JSON.parse(t) as Record<string, unknown>)),
      );
      // Exactly one of them records the outcome (unless the capture was decided already, or cannot be);
      // check that one first, then the others against what it recorded.
      const order = answers
        .map((_a, i) => i)
        .sort(
          (i, j) => Number(answers[i]!.body.repeated !== false) - Number(answers[j]!.body.repeated !== false),
        );
      for (const i of order) {
        noteExpiry(own.on, texts[i]!, true, answers[i]!);
        check(own.on, texts[i]!, true, answers[i]!);
      }
    }
  }
}

// ---------------------------------------------------------------- the properties

describe("captureOutcome fuzz over HTTP", () => {
  test("arbitrary and mutated outcomes against acknowledged (and other) captures, some again, some conflicting, some racing: the documented answer", async () => {
    await fc.assert(
      fc.asyncProperty(
        captureSpecArb,
        fc.array(stepArb, { minLength: 1, maxLength: 4 }),
        async (spec, steps) => {
          await runSteps(await makeCapture(spec), steps);
        },
      ),
      { numRuns: 30 },
    );
  });

  test("bodies that are not an outcome: not JSON, not an object, deeply nested, any content type → 400 INVALID_OUTCOME; no token → 403", async () => {
    const deep = (shape: "array" | "object", depth: number) =>
      shape === "array"
        ? "[".repeat(depth) + "]".repeat(depth)
        : `${'{"a":'.repeat(depth)}{}${"}".repeat(depth)}`;
    const textArb = fc.oneof(
      fc.string({ maxLength: 60, unit: "binary" }),
      fc
        .jsonValue({ maxDepth: 3 })
        .filter((v) => !isPlainObject(v))
        .map((v) => JSON.stringify(v)),
      fc.constantFrom("", " ", "null", "{", '{"outcome":"APPROVED"', "[]", "{}", '"APPROVED"'),
      fc
        .tuple(fc.constantFrom("array" as const, "object" as const), fc.integer({ min: 1, max: 100_000 }))
        .map(([s, d]) => deep(s, d)),
      // A well-formed approval of an earlier capture carrying a deeply nested unknown member.
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 50_000 })).map(([i, d]) => {
        const c = captures[i % captures.length]!;
        return `{"paymentIntegratorAccountId":"${PIAID}","captureRequestId":"${c.captureRequestId}","outcome":"APPROVED","x":${deep("array", d)}}`;
      }),
    );
    const contentType = fc.constantFrom(
      "application/json",
      "text/plain; charset=utf-8",
      "application/octet-stream",
      "application/x-www-form-urlencoded",
    );
    await fc.assert(
      fc.asyncProperty(textArb, contentType, authArb, async (text, type, auth) => {
        // Every earlier capture is on the main stack or the expiring one; send each body to the main stack.
        await sendOutcome("main", text, auth, type);
      }),
      { numRuns: 25 },
    );
  });

  const UNITS = ["m", "é", "€", "𝟘"] as const;
  /** A string of about `bytes` UTF-8 bytes of one unit (at most `bytes`, at least one unit). */
  const ofBytes = (unit: string, bytes: number) =>
    unit.repeat(Math.max(1, Math.floor(bytes / Buffer.byteLength(unit, "utf8"))));

  test("identifiers at and past their 1024-byte limit, in 1-4 byte characters: an unknown capture (404), or an invalid outcome (400); never a 5xx", async () => {
    const identifierBytes = fc.oneof(
      { weight: 4, arbitrary: fc.constant(1024) },
      fc.constantFrom(1023, 1025),
      fc.integer({ min: 1, max: 1026 }),
    );
    const sized = fc.record({ unit: fc.constantFrom(...UNITS), bytes: identifierBytes });
    await fc.assert(
      fc.asyncProperty(sized, sized, async (piaid, id) => {
        const text = JSON.stringify({
          paymentIntegratorAccountId: ofBytes(piaid.unit, piaid.bytes),
          captureRequestId: ofBytes(id.unit, id.bytes),
          outcome: "APPROVED",
        });
        await sendOutcome("main", text);
      }),
      { numRuns: 20 },
    );
  });

  test("raw results of any size, up to past the record's 400 KB item limit (stored twice): recorded as reported, or refused 400, at once; never a 5xx", async () => {
    const rawArb = fc.record({
      unit: fc.constantFrom(...UNITS),
      code: fc.constantFrom(...REPORTED),
      // The whole body stays under the gateway's 1 MiB.
      rawCodeBytes: fc.oneof(fc.constant(3), fc.integer({ min: 1, max: 450_000 })),
      scopeBytes: fc.option(
        fc.oneof(
          fc.constantFrom(64, 65, 1024),
          fc.integer({ min: 190_000, max: 215_000 }),
          fc.integer({ min: 0, max: 450_000 }),
        ),
        { nil: undefined },
      ),
    });
    await fc.assert(
      fc.asyncProperty(rawArb, async ({ unit, code, rawCodeBytes, scopeBytes }) => {
        const own = await makeCapture({
          on: "short",
          sync: false,
          fop: { upiDetails: { vpa: "customer@demobank" } },
          amount: INR,
        });
        const rawResult = {
          ...(scopeBytes !== undefined && { scope: scopeBytes === 0 ? "" : ofBytes(unit, scopeBytes) }),
          rawCode: ofBytes(unit, rawCodeBytes),
        };
        const text = wire(own.captureRequestId, {
          base: { outcome: "FAILED", captureResultCode: code, rawResult },
          edits: [],
        });
        // Acknowledged a moment ago with 5 s to go: CAPTURE_EXPIRED is not a possible answer.
        await sendOutcome("short", text);
        await sendOutcome("short", text); // and again: the same answer
      }),
      {
        numRuns: 12,
        // Found by this property on DynamoDB Local: a record just past the item limit by a few hundred
        // bytes (the write is cancelled with ValidationError rather than refused).
        examples: [[{ unit: "m", code: "INVALID_PIN", rawCodeBytes: 3, scopeBytes: 204_500 }]],
        // Each failing try of this kind runs until the capture's deadline: report the first, do not shrink.
        endOnFailure: true,
      },
    );
  });
});

describe("captureOutcome fuzz over HTTP: the ledger and Google", () => {
  test("the ledger moved by exactly the SUCCESS approvals, once per capture; each record holds its first outcome", async (t) => {
    const expected = { ...before.main };
    for (const [key, micros] of debits) {
      const [on, account] = key.split(" ");
      assert.equal(on, "main", "approvals are only reported on the main stack");
      expected[`${account} INR`] = expected[`${account} INR`]! - micros;
    }
    assert.deepEqual(await demoBalances(stack), expected, "main stack: balances less the SUCCESS approvals");
    assert.deepEqual(await demoBalances(expiring), before.expiring, "expired captures move no money");
    assert.deepEqual(await demoBalances(short), before.short, "failures move no money");
    for (const c of captures) {
      const record = await STACKS[c.on].deps.capture.store.get(`${PIAID}#${c.captureRequestId}`);
      assert.ok(record, c.captureRequestId);
      if (c.decided) {
        assert.equal(record.state, "DECIDED");
        assert.deepEqual(record.outcome, c.decided.outcome);
        assert.deepEqual(record.notification?.captureResult, c.decided.captureResult);
      } else if (c.expired) {
        assert.deepEqual(record.outcome, { kind: "EXPIRED" });
      } else {
        assert.equal(record.outcome, undefined, `${c.captureRequestId} has no outcome`);
        assert.equal(record.state, c.result === "ACKNOWLEDGED" && !c.sync ? "PENDING" : "DECIDED");
      }
    }
    assert.ok(
      tally.decided > 5 && tally.success > 0,
      `outcomes recorded: ${tally.decided}, SUCCESS: ${tally.success}`,
    );
    t.diagnostic(
      `captureOutcome fuzz: ${tally.requests} outcome requests on ${captures.length} captures, ${tally.decided} recorded ` +
        `(${tally.success} SUCCESS, ${[...debits.values()].reduce((a, b) => a + b, 0n)} micros debited); ` +
        `answers ${JSON.stringify(Object.fromEntries(tally.answers))}`,
    );
  });

  test("Google is told exactly the recorded result of each decided or expired capture, and nothing else", async () => {
    const told = (c: Capture) =>
      STACKS[c.on].google!.received.filter((r) => r.request.captureRequestId === c.captureRequestId);
    const owed = captures.filter((c) => c.decided || c.expired);
    await until("every recorded outcome notified", () => owed.every((c) => told(c).length > 0), 30_000);
    for (const c of captures) {
      const notifications = told(c);
      if (!c.decided && !c.expired) {
        assert.equal(notifications.length, 0, `nothing told for ${c.captureRequestId}`);
        continue;
      }
      const expected = c.decided
        ? c.decided.captureResult
        : {
            captureResultCode: "CAPTURE_REQUEST_EXPIRED",
            rawResult: { scope: "LEDGER", rawCode: "DEADLINE_PASSED" },
          };
      for (const n of notifications) {
        assert.deepEqual(
          n.request.captureResult,
          expected,
          `${c.captureRequestId}: one result, the recorded one`,
        );
        assert.equal(n.request.requestHeader.requestId, notifications[0]!.request.requestHeader.requestId);
        assert.equal(n.request.paymentIntegratorTransactionId, c.paymentIntegratorTransactionId);
      }
    }
  });
});

describe("captureOutcome fuzz over HTTP: logs", () => {
  test("no token, VPA or OTP appears in this file's log lines", () => {
    assert.ok(capturedLogs.length > 100, `captured ${capturedLogs.length} lines`);
    assert.deepEqual(leaks(capturedLogs, SECRETS), []);
  });
});
