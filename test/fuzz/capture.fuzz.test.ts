import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MAX_BODY_BYTES } from "../../infra/local/gateway.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { GOOGLE_MAX_BODY_BYTES } from "../../shared/http/limits.ts";
import { CaptureResultCode } from "../../shared/protocol/capture.ts";
import { seal } from "../../shared/security/envelope.ts";
import { capture, captureRequest, googleKeyring, requestId, withoutHeader } from "../support/google.ts";
import { capturedLogs } from "../support/log-capture.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";
import {
  buildWire,
  type Case,
  DEMO,
  deepEditArb,
  demoRequestArb,
  type Edit,
  editArb,
  hostileEditsArb,
} from "./arbitraries.ts";
import { answerChecks, countRecords, demoBalances, postRaw, SEALED } from "./stack-checks.ts";

/**
 * The capture endpoint over HTTP, through the envelope, on the real local stack: generated and
 * mutated requests sealed as Google, and corrupted wire bodies. Whatever arrives: never a 5xx;
 * every error is a documented ErrorResponse (sealed when the request was verified, bare when it
 * could not be); every 200 carries a capture result code; and the ledger moves by exactly the
 * SUCCESS answers, nothing else.
 */
const stack: LocalStack = await startTestStack(import.meta.filename);
const google = await googleKeyring();
const SECRETS = allSecrets();

// ---------------------------------------------------------------- the ledger, before and expected

const ACCOUNT_OF_TOKEN = new Map(DEMO.tokens.map((t) => [t.googlePaymentToken, t.accountId]));
const ACCOUNT_OF_MANDATE = new Map(DEMO.mandates.map((m) => [m.mandateId, m.accountId]));

/** Every balance of every demo account ("acct CUR" → micros) and the number of capture records. */
const ledgerState = async () => ({ balances: await demoBalances(stack), records: await countRecords(stack) });
const before = await ledgerState();

/** What the 200 answers say happened: one record per idempotency key, a debit per SUCCESS. */
const answered = new Map<string, Record<string, unknown>>();
const debits = new Map<string, bigint>();
let successes = 0;

function accountOf(body: Record<string, unknown>): string {
  const mandate = (body.mandateDetails ?? body.mandateWithNotificationDetails) as { mandateId?: string };
  const account =
    typeof body.googlePaymentToken === "string"
      ? ACCOUNT_OF_TOKEN.get(body.googlePaymentToken)
      : ACCOUNT_OF_MANDATE.get(String(mandate?.mandateId));
  assert.ok(account, "a SUCCESS names an instrument of the fixture");
  return account;
}

/** Books a 200 answer to the request `json`: a replay must repeat the first answer and moves nothing. */
function book(json: string, answer: Record<string, unknown>) {
  const body = JSON.parse(json) as Record<string, unknown>;
  const header = body.requestHeader as { requestId: string };
  const key = `${body.paymentIntegratorAccountId}#${header.requestId}`;
  const first = answered.get(key);
  if (first) {
    assert.deepEqual(withoutHeader(answer), first, "a replay repeats the first answer");
    return;
  }
  answered.set(key, withoutHeader(answer));
  if (answer.result === "SUCCESS") {
    successes += 1;
    const account = `${accountOf(body)} ${body.currencyCode}`;
    debits.set(account, (debits.get(account) ?? 0n) + BigInt(body.amount as string));
  }
}

// ---------------------------------------------------------------- what every answer must be

function assertCaptureResult(body: Record<string, unknown>) {
  const result = body.result as string;
  assert.ok(
    (CaptureResultCode as readonly string[]).includes(result),
    `result ${result} is a capture result code`,
  );
  assert.equal(body.errorResponseCode, undefined);
  assert.equal(typeof body.paymentIntegratorTransactionId, "string");
  if (result === "SUCCESS") assert.equal(body.rawResult, undefined);
  else assert.match(String((body.rawResult as { rawCode?: unknown })?.rawCode), /^[A-Z_]+$/);
  if (result === "CHARGE_EXCEEDS_TRANSACTION_LIMIT") assert.match(String(body.transactionLimit), /^[0-9]+$/);
  if (result === "INSUFFICIENT_FUNDS") assert.match(String(body.currentBalance), /^[0-9]+$/);
}

/** Every answer's checks (stack-checks): a 200 carries a capture result code and is booked. */
const { tally, assertVerifiedAnswer, assertWireAnswer, assertCorruptedWires, summary } = answerChecks({
  google,
  secrets: SECRETS,
  onOk: (json, body) => {
    assertCaptureResult(body);
    book(json, body);
  },
});

async function sendAsGoogle(c: Case) {
  const json = buildWire(c, Date.now());
  assertVerifiedAnswer(json, await capture(stack.url, json));
}

const postWire = (wire: string | Buffer, contentType: string | undefined) =>
  postRaw(stack.url, "/v1/capture", wire, { "content-type": contentType });

// ---------------------------------------------------------------- the properties

describe("capture fuzz over HTTP: requests sealed as Google", () => {
  test("demo-fixture requests, as they are or with 1-3 fields removed, retyped, added, doubled or skewed", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoRequestArb(() => requestId("fz")),
      edits: fc.oneof(
        { weight: 2, arbitrary: fc.constant<Edit[]>([]) },
        { weight: 3, arbitrary: fc.array(editArb(), { minLength: 1, maxLength: 3 }) },
      ),
    });
    await fc.assert(fc.asyncProperty(caseArb, sendAsGoogle), { numRuns: 130 });
  });

  test("identifiers and descriptions up to and past their length limits, in 1-4 byte characters", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoRequestArb(() => requestId("fz-long")),
      edits: hostileEditsArb(),
    });
    await fc.assert(fc.asyncProperty(caseArb, sendAsGoogle), { numRuns: 50 });
  });

  test("unknown or known members nested up to 5000 levels deep", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoRequestArb(() => requestId("fz-deep")),
      edits: fc.tuple(deepEditArb(5000)),
    });
    await fc.assert(fc.asyncProperty(caseArb, sendAsGoogle), { numRuns: 25 });
  });
});

describe("capture fuzz over HTTP: corrupted wire bodies", () => {
  test("bit flips, truncation, trailing bytes, random bytes (padded or not), garbage text, empty", async () => {
    // A request that would be accepted (a CHARGE_UNDER_LIMIT decline: recorded, nothing debited).
    await assertCorruptedWires(
      stack.url,
      "/v1/capture",
      fc.constant(undefined),
      () => JSON.stringify(captureRequest({ amount: "500000" }, requestId("fz-wire"))),
      100,
    );
  });
});

/**
 * Bodies over the gateway's payload limit (1 MiB, MAX_BODY_BYTES) are refused by the gateway with
 * 413 and its own `{"message":"Request Entity Too Large"}`, before any function runs: that is what
 * API Gateway does with its payload limit in AWS, so it cannot be an ErrorResponse, and no other
 * answer is possible there. We accept it: it is a 4xx (Google does not retry it as a transient
 * failure), the ledger is not touched, and no request Google can legitimately send comes near 1 MiB.
 * Only there: any body within the limit gets a protocol answer (checked at the limit exactly). Google's
 * routes read at most GOOGLE_MAX_BODY_BYTES (64 KiB): the edge answers a larger body with the same 413.
 */
describe("capture fuzz over HTTP: bodies at and over the 1 MiB payload limit", () => {
  const TOO_LARGE = { status: 413, body: { message: "Request Entity Too Large" } };

  test("over the limit: garbage or a sealed request, several in a row → the gateway's 413 every time", async () => {
    const big = JSON.stringify(captureRequest({ amount: "1000000", padding: "p".repeat(900_000) }));
    const sealedBig = await seal(big, google);
    assert.ok(sealedBig.length > MAX_BODY_BYTES);
    const bodies = [
      ["A".repeat(MAX_BODY_BYTES + 1), SEALED],
      [randomBytes(2 * MAX_BODY_BYTES), "application/octet-stream"],
      ["{".repeat(MAX_BODY_BYTES + 10), "application/json"],
      [sealedBig, SEALED],
    ] as const;
    // Several in a row, as a client reusing its connection sends them: each one gets its 413.
    for (const [wire, type] of [...bodies, ...bodies]) {
      tally.requests += 1;
      const reply = await postWire(wire, type).catch((error: Error) => {
        throw new Error(
          `no answer to a ${wire.length}-byte body: ${error.message} (${(error.cause as Error)?.message})`,
        );
      });
      assert.deepEqual({ status: reply.status, body: JSON.parse(reply.text) }, TOO_LARGE);
    }
  });

  test("at the limit of Google's routes: garbage of exactly 64 KiB is refused for its envelope, bare", async () => {
    const reply = await postWire("A".repeat(GOOGLE_MAX_BODY_BYTES), SEALED);
    assert.equal(reply.status, 400);
    await assertWireAnswer("{}", reply);
  });

  test("under the limit: a sealed request with a ~40 KB unknown member is answered sealed", async () => {
    const json = JSON.stringify(captureRequest({ amount: "1000000", padding: "p".repeat(40_000) }));
    const reply = await capture(stack.url, json);
    assertVerifiedAnswer(json, reply);
    assert.equal(reply.status, 200, "a capture result (which one depends on what the fuzzing spent today)");
  });
});

describe("capture fuzz over HTTP: the ledger", () => {
  test("moved by exactly the SUCCESS answers: every error and decline left balances and records alone", async (t) => {
    const after = await ledgerState();
    const expected = { ...before.balances };
    for (const [account, micros] of debits) expected[account] = (expected[account] ?? 0n) - micros;
    assert.deepEqual(after.balances, expected);
    assert.equal(after.records, before.records + answered.size, "one capture record per key answered 200");
    t.diagnostic(`capture fuzz: ${summary()} (${successes} SUCCESS, ${answered.size} records)`);
  });
});

describe("capture fuzz over HTTP: logs", () => {
  test("no token or OTP appears in this file's log lines", () => {
    assert.ok(capturedLogs.length > 150, `captured ${capturedLogs.length} lines`);
    assert.deepEqual(leaks(capturedLogs, SECRETS), []);
  });
});
