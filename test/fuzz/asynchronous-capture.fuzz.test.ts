import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { LocalStack } from "../../infra/local/stack.ts";
import { AsynchronousCaptureResultCode } from "../../shared/protocol/asynchronous-capture.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  googleKeyring,
  PIAID,
  type Reply,
  requestId,
  withoutHeader,
} from "../support/google.ts";
import { capturedLogs } from "../support/log-capture.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";
import {
  asyncDeepEditArb,
  asyncEditArb,
  asyncHostileEditsArb,
  buildWire,
  type Case,
  DEMO_ACCOUNT_STATUS,
  demoAccountOf,
  demoAsynchronousCaptureRequestArb,
  type Edit,
} from "./arbitraries.ts";
import { answerChecks, assertRetryAnswer, brief, countRecords, demoBalances } from "./stack-checks.ts";

/**
 * asynchronousCapture over HTTP, through the envelope, on the real local stack: generated and
 * mutated requests sealed as Google, and corrupted wire bodies. Whatever arrives: never a 5xx;
 * every error is a documented ErrorResponse (sealed when the request was verified, bare when it
 * could not be); every 200 carries an AsynchronousCaptureResultCode and our transaction id; a
 * well-formed demo request gets exactly the answer the README documents for its instrument; and
 * no money moves at all: an acknowledgement only records a PENDING capture, an immediate decline a
 * decided one, and no notification follows either by itself.
 */
const stack: LocalStack = await startTestStack(import.meta.filename);
const google = await googleKeyring();
const SECRETS = allSecrets();
const ROUTE = "/v1/asynchronousCapture";

const before = { balances: await demoBalances(stack), records: await countRecords(stack) };

/** The first 200 answer per idempotency key (without its header), and the request it answered. */
const answered = new Map<string, { answer: Record<string, unknown>; body: Record<string, unknown> }>();

const IMMEDIATE_DECLINE: Record<string, string> = {
  ACTIVE: "ACKNOWLEDGED",
  CLOSED: "ACCOUNT_CLOSED",
  CLOSED_FRAUD: "ACCOUNT_CLOSED_FRAUD",
  CLOSED_ACCOUNT_TAKEN_OVER: "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  ON_HOLD: "ACCOUNT_ON_HOLD",
};

/** The documented answer to a well-formed demo request: its instrument's account decides, the amount does not. */
function documentedAnswer(body: Record<string, unknown>): {
  status: number;
  code: string;
  description?: string;
} {
  const account = demoAccountOf(body);
  if (account === undefined) {
    const kind = body.upiDetails ? "upiDetails.vpa" : "googlePaymentToken";
    return { status: 404, code: "INVALID_IDENTIFIER", description: `unknown ${kind}` };
  }
  return { status: 200, code: IMMEDIATE_DECLINE[DEMO_ACCOUNT_STATUS.get(account)!]! };
}

// ---------------------------------------------------------------- what every answer must be

function assertAsynchronousResult(body: Record<string, unknown>) {
  const result = body.result as string;
  assert.ok(
    (AsynchronousCaptureResultCode as readonly string[]).includes(result),
    `result ${result} is an AsynchronousCaptureResultCode`,
  );
  assert.deepEqual(Object.keys(withoutHeader(body)).sort(), ["paymentIntegratorTransactionId", "result"]);
  assert.match(String(body.paymentIntegratorTransactionId), /^[A-Za-z0-9_-]{1,64}$/);
  assert.match(
    String((body.responseHeader as { responseTimestamp?: unknown }).responseTimestamp),
    /^\d{13}$/,
  );
}

/** Books a 200 answer to the request `json`: a replay must repeat the first answer. */
function book(json: string, answer: Record<string, unknown>) {
  const body = JSON.parse(json) as Record<string, unknown>;
  const key = `${body.paymentIntegratorAccountId}#${(body.requestHeader as { requestId: string }).requestId}`;
  const first = answered.get(key);
  if (first) assert.deepEqual(withoutHeader(answer), first.answer, "a replay repeats the first answer");
  else answered.set(key, { answer: withoutHeader(answer), body });
}

/** Every answer's checks (stack-checks): a 200 carries an AsynchronousCaptureResultCode and is booked. */
const { tally, assertVerifiedAnswer, assertCorruptedWires, summary } = answerChecks({
  google,
  secrets: SECRETS,
  onOk: (json, body) => {
    assertAsynchronousResult(body);
    book(json, body);
  },
});

async function sendAsGoogle(c: Case): Promise<Reply> {
  const json = buildWire(c, Date.now());
  const reply = await asynchronousCapture(stack.url, json);
  assertVerifiedAnswer(json, reply);
  if (c.edits.length === 0) {
    const expected = documentedAnswer(c.base);
    const got =
      reply.status === 200
        ? { status: 200, code: reply.body.result }
        : {
            status: reply.status,
            code: reply.body.errorResponseCode,
            description: reply.body.errorDescription,
          };
    assert.deepEqual(got, expected, `the documented answer to ${brief(json)}`);
  }
  return reply;
}

// ---------------------------------------------------------------- the properties

describe("asynchronousCapture fuzz over HTTP: requests sealed as Google", () => {
  test("demo-fixture requests: as they are (the documented answer exactly), or with 1-3 fields removed, retyped, nulled, added, doubled or skewed", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoAsynchronousCaptureRequestArb(() => requestId("fz-async")),
      edits: fc.oneof(
        { weight: 2, arbitrary: fc.constant<Edit[]>([]) },
        { weight: 3, arbitrary: fc.array(asyncEditArb(), { minLength: 1, maxLength: 3 }) },
      ),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 70 },
    );
  });

  test("identifiers, VPAs and descriptions up to and past their length limits, in 1-4 byte characters", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoAsynchronousCaptureRequestArb(() => requestId("fz-async-long")),
      edits: asyncHostileEditsArb(),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 25 },
    );
  });

  test("unknown or known members nested up to 5000 levels deep", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoAsynchronousCaptureRequestArb(() => requestId("fz-async-deep")),
      edits: fc.tuple(asyncDeepEditArb(5000)),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 15 },
    );
  });

  test("retries: the same request again gets the same answer; another body with its requestId, or a capture with it, 412", async () => {
    const caseArb = fc.record({
      base: demoAsynchronousCaptureRequestArb(() => requestId("fz-async-retry")),
      change: fc.constantFrom("amount", "description", "instrument", "minor", "unknown"),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ base, change }) => {
        const first = await sendAsGoogle({ base, edits: [] });
        // Google's retry: the same body with a new requestTimestamp.
        const again = await sendAsGoogle({ base, edits: [] });
        if (!assertRetryAnswer(first, again)) return;
        const json = buildWire({ base, edits: differentFrom(base, change) }, Date.now());
        const other = await asynchronousCapture(stack.url, json);
        assertVerifiedAnswer(json, other);
        assert.deepEqual([other.status, other.body.errorResponseCode], [412, "IDEMPOTENCY_VIOLATION"]);
        const id = (base.requestHeader as { requestId: string }).requestId;
        const sync = JSON.stringify(captureRequest({ amount: "500000" }, id));
        const syncReply = await capture(stack.url, sync);
        assertVerifiedAnswer(sync, syncReply);
        assert.deepEqual(
          [syncReply.status, syncReply.body.errorResponseCode],
          [412, "IDEMPOTENCY_VIOLATION"],
        );
      }),
      { numRuns: 12 },
    );
  });
});

/** Edits that make another request of `base` (the idempotency rule ignores only requestTimestamp). */
function differentFrom(base: Record<string, unknown>, change: string): Edit[] {
  const amount = BigInt(base.amount as string);
  switch (change) {
    case "amount":
      return [{ op: "set", path: ["amount"], value: String(amount > 1n ? amount - 1n : 2n) }];
    case "description":
      return [{ op: "set", path: ["transactionDescription"], value: `${base.transactionDescription}!` }];
    case "instrument":
      return [
        { op: "delete", path: ["tokenizedInstrumentDetails"] },
        { op: "set", path: ["upiDetails"], value: { vpa: "another@demobank" } },
      ];
    case "minor":
      return [{ op: "set", path: ["requestHeader", "protocolVersion", "minor"], value: 7 }];
    default:
      return [{ op: "set", path: ["x-unknown"], value: 1 }];
  }
}

describe("asynchronousCapture fuzz over HTTP: corrupted wire bodies", () => {
  test("bit flips, truncation, trailing bytes, random bytes (padded or not), garbage text, empty", async () => {
    await assertCorruptedWires(
      stack.url,
      ROUTE,
      fc.constantFrom("customer@demobank", "closed@demobank", "nobody@demobank"),
      (vpa) =>
        JSON.stringify(asynchronousCaptureRequest({ upiDetails: { vpa } }, requestId("fz-async-wire"))),
      40,
    );
  });

  test("a sealed request with a ~40 KB unknown member (under the 64 KiB limit of Google's routes) is answered sealed", async () => {
    const json = JSON.stringify(asynchronousCaptureRequest({ padding: "p".repeat(40_000) }));
    const reply = await asynchronousCapture(stack.url, json);
    assertVerifiedAnswer(json, reply);
    assert.deepEqual([reply.status, reply.body.result], [200, "ACKNOWLEDGED"]);
  });
});

describe("asynchronousCapture fuzz over HTTP: the ledger", () => {
  test("no money moved; one record per key answered 200: PENDING with a deadline when acknowledged, decided when declined; nothing notified", async (t) => {
    assert.deepEqual(await demoBalances(stack), before.balances, "no balance moved");
    assert.equal(
      await countRecords(stack),
      before.records + answered.size,
      "one capture record per key answered 200",
    );
    for (const [key, { answer, body }] of answered) {
      const record = await stack.deps.capture.store.get(key);
      assert.ok(record, `a record for ${key}`);
      assert.equal(record.method, "asynchronousCapture");
      assert.deepEqual(record.response, answer, "the record holds the answer replayed to retries");
      assert.equal(record.amount, BigInt(body.amount as string));
      assert.equal(record.outcome, undefined, "no outcome was reported");
      assert.equal(record.notification, undefined, "no notification is owed");
      if (answer.result === "ACKNOWLEDGED") {
        assert.equal(record.state, "PENDING");
        assert.ok(record.deadlineMs! > record.createdAtMs, "a PENDING capture has a deadline ahead");
      } else {
        assert.equal(record.state, "DECIDED");
        assert.equal(record.deadlineMs, undefined);
      }
    }
    assert.equal(stack.google!.attempts.length, 0, "no captureResultNotification was sent");
    assert.ok(
      (tally.results.get("ACKNOWLEDGED") ?? 0) > 10 && tally.results.size > 1,
      "acknowledgements and immediate declines were both answered",
    );
    t.diagnostic(`asynchronousCapture fuzz: ${summary()} (${answered.size} records)`);
  });
});

describe("asynchronousCapture fuzz over HTTP: logs", () => {
  test("no token, VPA or OTP appears in this file's log lines", () => {
    assert.ok(capturedLogs.length > 150, `captured ${capturedLogs.length} lines`);
    assert.deepEqual(leaks(capturedLogs, SECRETS), []);
    assert.ok(
      capturedLogs.some((l) => l.includes(`"paymentIntegratorAccountId":"${PIAID}"`)),
      "the request lines were captured",
    );
  });
});
