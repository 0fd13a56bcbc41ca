import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { LocalStack } from "../../infra/local/stack.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import { refund as refundService } from "../../shared/domain/refund-service.ts";
import type { ProtocolError } from "../../shared/protocol/errors.ts";
import { RefundResultCode } from "../../shared/protocol/refund.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  googleKeyring,
  PIAID,
  type Reply,
  refund,
  refundRequest,
  reportOutcome,
  requestId,
  withoutHeader,
} from "../support/google.ts";
import { setAccountStatus } from "../support/ledger.ts";
import { capturedLogs } from "../support/log-capture.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";
import {
  buildWire,
  type Case,
  demoRefundAmountArb,
  demoRefundRequestArb,
  type Edit,
  refundDeepEditArb,
  refundEditArb,
  refundHostileEditsArb,
  valueAt,
} from "./arbitraries.ts";
import { answerChecks, assertRetryAnswer, countItems, demoBalances } from "./stack-checks.ts";

/**
 * refund over HTTP, through the envelope, on the real local stack, against captures of every kind made
 * first (SUCCESS ones, a declined one, asynchronous ones pending, approved and failed, and SUCCESS ones
 * whose account was closed or put on hold since): generated and mutated requests sealed as Google,
 * corrupted wire bodies, retries and concurrent bursts. Whatever arrives: never a 5xx; every error is a
 * documented ErrorResponse with its table status; a 200 carries the result the capture's state implies;
 * a well-formed request gets exactly the documented answer. Only SUCCESS answers credit: balances, the
 * refunds table and every capture's refunded total are what the 200 answers say, nothing else, and no
 * capture is ever refunded beyond what it took.
 */
const stack: LocalStack = await startTestStack(import.meta.filename);
const google = await googleKeyring();
const SECRETS = allSecrets();
const INR = 1_000_000n;

// ---------------------------------------------------------------- the captures refunded

/** What the service knows of a capture, as the refund rules read it; `refunded` as the 200 answers say. */
interface Captured {
  amount: bigint;
  accountId: string;
  moved: boolean;
  /** The result a refund gets because the account can no longer receive money (absent: it can). */
  decline?: string;
  refunded: bigint;
}
const captures = new Map<string, Captured>();
const tables = stack.config.tables;
const before = { balances: await demoBalances(stack), refunds: await countItems(stack, tables.refunds) };
/** What moved, by account: the captures that took money, the refunds answered SUCCESS. */
const debits = new Map<string, bigint>();
const credits = new Map<string, bigint>();
const add = (map: Map<string, bigint>, accountId: string, micros: bigint) =>
  map.set(accountId, (map.get(accountId) ?? 0n) + micros);

async function captured(amount: bigint, token: string, accountId: string) {
  const id = requestId("fz-refund-capture");
  const reply = await capture(
    stack.url,
    captureRequest({ amount: String(amount), googlePaymentToken: token }, id),
  );
  const moved = reply.body.result === "SUCCESS";
  assert.equal(moved, amount >= INR, JSON.stringify(reply.body));
  captures.set(id, { amount, accountId, moved, refunded: 0n });
  if (moved) add(debits, accountId, amount);
  return id;
}

async function capturedAsynchronously(amount: bigint, outcome?: Record<string, unknown>) {
  const id = requestId("fz-refund-async");
  const ack = await asynchronousCapture(
    stack.url,
    asynchronousCaptureRequest({ amount: String(amount) }, id),
  );
  assert.equal(ack.body.result, "ACKNOWLEDGED");
  if (outcome) assert.equal((await reportOutcome(stack, { captureRequestId: id, ...outcome })).status, 200);
  const moved = outcome?.outcome === "APPROVED";
  captures.set(id, { amount, accountId: "acct-demo-main", moved, refunded: 0n });
  if (moved) add(debits, "acct-demo-main", amount);
}

for (const amount of [2n * INR, 5n * INR, 10n * INR, 728n * INR, INR / 2n]) {
  await captured(amount, "gpt-demo-success", "acct-demo-main");
}
await capturedAsynchronously(6n * INR, { outcome: "APPROVED" });
await capturedAsynchronously(4n * INR, {
  outcome: "FAILED",
  captureResultCode: "INVALID_PIN",
  rawResult: { rawCode: "U16" },
});
await capturedAsynchronously(3n * INR);
// Accounts that took money and can no longer receive it: their refunds are declined, recorded, credit nothing.
for (const [token, accountId, status, decline] of [
  ["gpt-demo-low-balance", "acct-demo-low-balance", "CLOSED", "ACCOUNT_CLOSED"],
  ["gpt-demo-monthly-limit", "acct-demo-monthly-limit", "ON_HOLD", "ACCOUNT_ON_HOLD"],
] as const) {
  captures.get(await captured(4n * INR, token, accountId))!.decline = decline;
  await setAccountStatus(stack, accountId, status);
}
const CAPTURE_IDS = [...captures.keys()];

// ---------------------------------------------------------------- what the answers say happened

const keyOf = (body: Record<string, unknown>) =>
  idempotencyKey(
    String(body.paymentIntegratorAccountId),
    (body.requestHeader as { requestId: string }).requestId,
  );

/**
 * The documented answer to a valid refund of the demo PIAID in INR, as things stand: a retry's is its
 * first answer; a new one's follows from the capture it names.
 */
function documentedAnswer(body: Record<string, unknown>) {
  const first = answered.get(keyOf(body));
  if (first) return { status: 200, code: first.answer.result };
  const c = captures.get(body.captureRequestId as string);
  if (!c) return { status: 404, code: "INVALID_IDENTIFIER" };
  const asked = BigInt(body.refundAmount as string);
  if (!c.moved || asked > c.amount - c.refunded) return { status: 400, code: "PRECONDITION_VIOLATION" };
  return { status: 200, code: c.decline ?? "SUCCESS" };
}

/** The first 200 answer per idempotency key (without its header), and what it refunded. */
const answered = new Map<
  string,
  { answer: Record<string, unknown>; captureRequestId: string; amount: bigint }
>();
function book(plaintext: string, answer: Record<string, unknown>) {
  const result = answer.result as string;
  assert.ok(
    (RefundResultCode as readonly string[]).includes(result),
    `result ${result} is a RefundResultCode`,
  );
  assert.match(String(answer.paymentIntegratorRefundId), /^[A-Za-z0-9_-]{1,64}$/);
  if (result === "SUCCESS") {
    assert.deepEqual(Object.keys(withoutHeader(answer)).sort(), ["paymentIntegratorRefundId", "result"]);
  } else {
    assert.deepEqual(answer.rawResult, { scope: "LEDGER", rawCode: result });
  }
  const body = JSON.parse(plaintext) as Record<string, unknown>;
  const key = keyOf(body);
  const first = answered.get(key);
  if (first) {
    assert.deepEqual(withoutHeader(answer), first.answer, "a replay repeats the first answer");
    return;
  }
  const captureRequestId = body.captureRequestId as string;
  const amount = BigInt(body.refundAmount as string);
  // Concurrent answers are booked once all have arrived, in no particular order. The check holds in any
  // order: a capture's SUCCESS refunds add up to no more than it took, so each finds enough remaining.
  assert.deepEqual(
    { status: 200, code: result },
    documentedAnswer(body),
    `the answer the capture's state implies, to ${plaintext.slice(0, 300)}`,
  );
  answered.set(key, { answer: withoutHeader(answer), captureRequestId, amount });
  const c = captures.get(captureRequestId);
  assert.ok(c?.moved, "only a capture that moved money is refunded");
  if (result !== "SUCCESS") return;
  c.refunded += amount;
  assert.ok(c.refunded <= c.amount, `capture ${captureRequestId} refunded ${c.refunded} of ${c.amount}`);
  add(credits, c.accountId, amount);
}

const checks = answerChecks({ google, secrets: SECRETS, onOk: book });

async function sendAsGoogle(c: Case): Promise<Reply> {
  const json = buildWire(c, Date.now());
  const expected = c.edits.length === 0 ? documentedAnswer(c.base) : undefined;
  const reply = await refund(stack.url, json);
  checks.assertVerifiedAnswer(json, reply);
  if (expected) {
    const got = {
      status: reply.status,
      code: reply.status === 200 ? reply.body.result : reply.body.errorResponseCode,
    };
    assert.deepEqual(got, expected, `the documented answer to ${json}`);
  }
  return reply;
}

const demoRefundArb = (prefix: string) => demoRefundRequestArb(() => requestId(prefix), CAPTURE_IDS);

// ---------------------------------------------------------------- the properties

describe("refund fuzz over HTTP: requests sealed as Google", () => {
  test("refunds of every kind of capture: as they are (the documented answer exactly), or with 1-3 fields removed, retyped, nulled, added or skewed", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoRefundArb("fz-refund"),
      edits: fc.oneof(
        { weight: 3, arbitrary: fc.constant<Edit[]>([]) },
        { weight: 2, arbitrary: fc.array(refundEditArb(), { minLength: 1, maxLength: 3 }) },
      ),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 150 },
    );
  });

  test("identifiers up to and past their length limits in 1-4 byte characters; members nested up to 5000 deep", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoRefundArb("fz-refund-long"),
      edits: fc.oneof(refundHostileEditsArb(), fc.tuple(refundDeepEditArb(5000))),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 40 },
    );
  });

  test("retries: the same request again gets the same answer; another refund under its requestId, 412", async () => {
    const change = fc.constantFrom<{ path: string[]; value: unknown }>(
      { path: ["refundAmount"], value: "1" },
      { path: ["captureRequestId"], value: CAPTURE_IDS[0]! },
      { path: ["requestHeader", "protocolVersion", "minor"], value: 7 },
      { path: ["x-unknown"], value: 1 },
    );
    await fc.assert(
      fc.asyncProperty(demoRefundArb("fz-refund-retry"), change, async (base, { path, value }) => {
        const first = await sendAsGoogle({ base, edits: [] });
        const again = await sendAsGoogle({ base, edits: [] });
        if (!assertRetryAnswer(first, again)) return;
        const other = await sendAsGoogle({ base, edits: [{ op: "set", path, value }] });
        if (JSON.stringify(valueAt(base, path)) === JSON.stringify(value)) return; // the same request after all
        assert.deepEqual([other.status, other.body.errorResponseCode], [412, "IDEMPOTENCY_VIOLATION"]);
      }),
      { numRuns: 15 },
    );
  });
});

/**
 * Sends every copy of every refund at once. Each answer gets the usual checks; the copies of one refund
 * (Google retrying one still in flight) must all get its one answer; a refusal is an unknown capture, or
 * one from which less remained than it asked (what remains now is no more than at its turn).
 */
async function sendBurst(burst: { base: Record<string, unknown>; copies: number }[]) {
  const sent = burst.flatMap(({ base, copies }) =>
    Array.from({ length: copies }, () => buildWire({ base, edits: [] }, Date.now())),
  );
  const replies = await Promise.all(sent.map((json) => refund(stack.url, json)));
  for (const [i, reply] of replies.entries()) checks.assertVerifiedAnswer(sent[i]!, reply);
  const outcome = (r: Reply) =>
    JSON.stringify(r.status === 200 ? withoutHeader(r.body) : [r.status, r.body.errorResponseCode]);
  let at = 0;
  for (const { base, copies } of burst) {
    const answers = new Set(replies.slice(at, at + copies).map(outcome));
    at += copies;
    assert.equal(
      answers.size,
      1,
      `copies of one refund got different answers: ${[...answers].join(" | ")}\n${JSON.stringify(base)}`,
    );
    const reply = replies[at - 1]!;
    if (reply.status === 200) continue;
    const c = captures.get(base.captureRequestId as string);
    if (!c) {
      assert.deepEqual([reply.status, reply.body.errorResponseCode], [404, "INVALID_IDENTIFIER"]);
      continue;
    }
    assert.deepEqual([reply.status, reply.body.errorResponseCode], [400, "PRECONDITION_VIOLATION"]);
    assert.ok(
      BigInt(base.refundAmount as string) > c.amount - c.refunded,
      "refused only when it did not fit",
    );
  }
}

describe("refund fuzz over HTTP: concurrent bursts", () => {
  test("refunds of fresh and older captures at once, some sent several times: one answer per request, never more than was taken", async () => {
    const burstArb = fc.array(
      fc.record({
        share: fc.oneof(fc.constant(0n), demoRefundAmountArb.map(BigInt)),
        copies: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 4 })),
        older: fc.boolean(),
      }),
      { minLength: 4, maxLength: 10 },
    );
    await fc.assert(
      fc.asyncProperty(burstArb, fc.constantFrom(2n, 5n), async (entries, inr) => {
        const fresh = await captured(inr * INR, "gpt-demo-success", "acct-demo-main");
        const older = CAPTURE_IDS.filter((id) => captures.get(id)!.moved);
        await sendBurst(
          entries.map(({ share, copies, older: onOlder }, i) => {
            const id = onOlder ? older[i % older.length]! : fresh;
            const amount = share === 0n ? (inr * INR) / 3n : share;
            return { base: refundRequest(id, String(amount), {}, requestId("fz-refund-burst")), copies };
          }),
        );
      }),
      { numRuns: 8 },
    );
  });

  test("a refund sent again while it is still in flight (Google's retry), for all that remains: every copy gets the one answer", async () => {
    for (let round = 0; round < 10; round++) {
      const id = await captured(INR, "gpt-demo-success", "acct-demo-main");
      await sendBurst([
        { base: refundRequest(id, String(INR), {}, requestId("fz-refund-again")), copies: 8 },
      ]);
    }
  });

  /**
   * The same, straight into the service (no envelope, whose decryption time spreads the copies out), so
   * that copies reach the store a millisecond apart, as retries can: a copy whose read straddles the
   * first one's commit must still get its answer, never PRECONDITION_VIOLATION for a refund that was made.
   */
  test("copies of one refund a millisecond apart, into the service on the same tables: every copy gets the one answer", async () => {
    const deadline = () => Date.now() + 10_000;
    for (let round = 0; round < 40; round++) {
      const id = await captured(INR, "gpt-demo-success", "acct-demo-main");
      const body = refundRequest(id, String(INR), {}, requestId("fz-refund-copies"));
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          new Promise((r) => setTimeout(r, i)) // copies a millisecond apart, as retries arrive
            .then(() => refundService(stack.deps.refund, structuredClone(body), deadline()))
            .then(
              (o) => o.response as Record<string, unknown>,
              (e: ProtocolError): Record<string, unknown> => ({
                errorResponseCode: e.code,
                errorDescription: e.description,
              }),
            ),
        ),
      );
      for (const o of outcomes) if (o.result !== undefined) book(JSON.stringify(body), o);
      const answers = new Set(outcomes.map((o) => JSON.stringify(withoutHeader(o))));
      assert.equal(
        answers.size,
        1,
        `copies of one refund got different answers: ${[...answers].join(" | ")}`,
      );
    }
  });
});

describe("refund fuzz over HTTP: corrupted wire bodies", () => {
  test("bit flips, truncation, trailing bytes, random bytes (padded or not), garbage text, empty", async () => {
    await checks.assertCorruptedWires(
      stack.url,
      "/v1/refund",
      demoRefundAmountArb,
      (amount) => JSON.stringify(refundRequest(CAPTURE_IDS[3]!, amount, {}, requestId("fz-refund-wire"))),
      40,
    );
  });
});

describe("refund fuzz over HTTP: what remains", () => {
  test("each capture: what remains of it, refunded at once, gets the documented answer; one micro more, PRECONDITION_VIOLATION", async () => {
    for (const [id, c] of captures) {
      const rest = c.amount - c.refunded;
      for (const amount of rest > 0n ? [rest, 1n] : [1n]) {
        await sendAsGoogle({
          base: refundRequest(id, String(amount), {}, requestId("fz-refund-rest")),
          edits: [],
        });
      }
      if (c.moved && !c.decline) assert.equal(c.refunded, c.amount, `capture ${id} refunded whole`);
    }
  });
});

describe("refund fuzz over HTTP: the ledger and the records", () => {
  test("balances moved by exactly the SUCCESS captures and refunds; one refund record per key answered 200; refunded totals as answered, never above the capture", async (t) => {
    const expected = { ...before.balances };
    for (const [account] of [...debits, ...credits]) {
      const moved = (credits.get(account) ?? 0n) - (debits.get(account) ?? 0n);
      expected[`${account} INR`] = before.balances[`${account} INR`]! + moved;
    }
    assert.deepEqual(
      await demoBalances(stack),
      expected,
      "start − the captures that took money + the refunds answered SUCCESS, nothing else",
    );
    assert.equal(
      await countItems(stack, tables.refunds),
      before.refunds + answered.size,
      "one refund record per key answered 200: no refused request was stored",
    );
    for (const [key, { answer, captureRequestId, amount }] of answered) {
      const record = await stack.deps.refund.store.get(key);
      assert.deepEqual(
        [record?.response, record?.captureRequestId, record?.amount, record?.accountId],
        [answer, captureRequestId, amount, captures.get(captureRequestId)!.accountId],
        `the record of ${key} holds its answer`,
      );
      assert.equal(typeof record?.notification?.requestId, "string", "it owes Google its notification");
    }
    for (const [id, c] of captures) {
      const record = await stack.deps.capture.store.get(idempotencyKey(PIAID, id));
      assert.equal(
        record?.refundedAmount ?? 0n,
        c.refunded,
        `capture ${id}: refunded as the SUCCESS answers say`,
      );
      assert.ok(c.refunded <= c.amount);
    }
    const results = checks.tally.results;
    assert.ok((results.get("SUCCESS") ?? 0) > 20, "many refunds succeeded");
    assert.ok(
      (results.get("ACCOUNT_CLOSED") ?? 0) + (results.get("ACCOUNT_ON_HOLD") ?? 0) > 0,
      "some were declined",
    );
    t.diagnostic(`refund fuzz: ${checks.summary()}, ${answered.size} records`);
  });
});

describe("refund fuzz over HTTP: logs", () => {
  test("no token, VPA or OTP appears in this file's log lines", () => {
    assert.ok(capturedLogs.length > 200, `captured ${capturedLogs.length} lines`);
    assert.deepEqual(leaks(capturedLogs, SECRETS), []);
  });
});
