import assert from "node:assert/strict";
import { ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import type { GoogleReply } from "../../infra/google/client.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { ErrorResponseCode } from "../../shared/protocol/errors.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import type { Keyring } from "../../shared/security/keyring.ts";
import { postRaw, type RawReply, withoutHeader } from "../support/google.ts";
import { balances } from "../support/ledger.ts";
import { leaks } from "../support/secrets.ts";
import { corruptionArb, corruptWire, DEMO, wireContentTypeArb } from "./arbitraries.ts";

/** The fuzz suites post raw bodies through here too. */
export { postRaw, type RawReply };

/** What the fuzz tests over HTTP (capture, asynchronousCapture, outcome, refund, echo) read from a running stack and check every answer against. */

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ENVELOPE_CODES = ["INVALID_PAYLOAD_ENCRYPTION", "INVALID_PAYLOAD_SIGNATURE"];
export const SEALED = "application/octet-stream; charset=utf-8";
export const BARE = "application/json; charset=utf-8";

/** Records in the stack's captures table. */
export const countRecords = (stack: LocalStack): Promise<number> =>
  countItems(stack, stack.config.tables.captures);

/** Every balance of every demo account, as "acct CUR" → micros. */
export async function demoBalances(stack: LocalStack): Promise<Record<string, bigint>> {
  const all: Record<string, bigint> = {};
  for (const { accountId } of DEMO.accounts) {
    for (const [currency, micros] of Object.entries(await balances(stack, accountId))) {
      all[`${accountId} ${currency}`] = micros;
    }
  }
  return all;
}

/** A protocol ErrorResponse: a documented code with its table status, our identifier, a description, a fresh header. */
export function assertErrorResponse(
  status: number,
  body: Record<string, unknown>,
  tally?: Map<string, number>,
) {
  const code = body.errorResponseCode;
  assert.ok(
    typeof code === "string" && Object.hasOwn(ErrorResponseCode, code),
    `errorResponseCode ${code} is documented`,
  );
  assert.equal(
    status,
    ErrorResponseCode[code as keyof typeof ErrorResponseCode],
    `${code} travels with its status`,
  );
  assert.match(String(body.paymentIntegratorErrorIdentifier), UUID);
  assert.equal(typeof body.errorDescription, "string");
  assert.match(
    String((body.responseHeader as { responseTimestamp?: unknown })?.responseTimestamp),
    /^\d{13}$/,
  );
  tally?.set(code as string, (tally.get(code as string) ?? 0) + 1);
}

/** A request or answer, shortened for an assertion message. */
export const brief = (text: string, max = 400) => (text.length > max ? `${text.slice(0, max)}…` : text);

/**
 * The checks every answer of one route gets over HTTP, and their tally. A request sealed as Google is
 * answered sealed and never with a 5xx: a 200 goes to `onOk` (which checks and books it), anything else
 * is a documented ErrorResponse. A wire body is answered bare with an envelope error when it no longer
 * verifies, or like any verified request when the change left it verifiable (framing the signature does
 * not cover). No answer names a customer secret, except what `echoed` returns of the request itself.
 */
export function answerChecks(options: {
  google: Keyring;
  secrets: string[];
  onOk: (plaintext: string, body: Record<string, unknown>) => void;
  /** Members of a 200 answer that repeat the request (echo's clientMessage), left out of the leak check. */
  echoed?: readonly string[];
}) {
  const { google, secrets, onOk, echoed = [] } = options;
  const tally = { requests: 0, ok: 0, results: new Map<string, number>(), errors: new Map<string, number>() };
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  function assertAnswer(plaintext: string, status: number, body: Record<string, unknown>) {
    if (status === 200) {
      onOk(plaintext, body);
      tally.ok += 1;
      if (typeof body.result === "string") count(tally.results, body.result);
      const own = Object.fromEntries(Object.entries(body).filter(([k]) => !echoed.includes(k)));
      assert.deepEqual(leaks([JSON.stringify(own)], secrets), [], "the answer names no customer secret");
    } else {
      assertErrorResponse(status, body, tally.errors);
      assert.deepEqual(leaks([JSON.stringify(body)], secrets), [], "the answer names no customer secret");
    }
  }

  /** The answer to `json` sealed as Google (so verified). */
  function assertVerifiedAnswer(json: string, reply: GoogleReply) {
    tally.requests += 1;
    const what = `request ${brief(json)}\nanswer ${reply.status} ${brief(reply.text, 300)}`;
    assert.ok(reply.status < 500, `never a 5xx\n${what}`);
    assert.equal(reply.sealed, true, `a verified request is answered sealed\n${what}`);
    assertAnswer(json, reply.status, reply.body);
  }

  /** The answer to a raw wire body that carried `plaintext` before it was changed. */
  async function assertWireAnswer(plaintext: string, reply: RawReply) {
    tally.requests += 1;
    const what = `answer ${reply.status} ${reply.contentType} ${brief(reply.text, 300)}`;
    assert.ok(reply.status < 500, `never a 5xx: ${what}`);
    if (reply.contentType === SEALED) {
      assertAnswer(plaintext, reply.status, JSON.parse(await open(reply.text, google)));
      return;
    }
    assert.equal(reply.contentType, BARE, `an unverifiable request gets a bare answer: ${what}`);
    assert.notEqual(reply.status, 200, what);
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    assertErrorResponse(reply.status, body, tally.errors);
    assert.ok(ENVELOPE_CODES.includes(body.errorResponseCode as string), `refused for its envelope: ${what}`);
    assert.deepEqual(leaks([reply.text], secrets), []);
  }

  /**
   * Corrupted wire bodies (bit flips, truncation, trailing bytes, random bytes, garbage, empty) under
   * any content type: each run's request, `plaintext` of a value of `arb`, is sealed as Google, then
   * corrupted and posted raw to `route`; every answer gets `assertWireAnswer`.
   */
  async function assertCorruptedWires<T>(
    url: string,
    route: string,
    arb: fc.Arbitrary<T>,
    plaintext: (value: T) => string,
    numRuns: number,
  ) {
    await fc.assert(
      fc.asyncProperty(corruptionArb, wireContentTypeArb, arb, async (c, type, value) => {
        const json = plaintext(value);
        const wire = corruptWire(await seal(json, google), c);
        await assertWireAnswer(json, await postRaw(url, route, wire, { "content-type": type }));
      }),
      { numRuns },
    );
  }

  /** What was answered, for a test's diagnostic line. */
  const summary = () =>
    `${tally.requests} requests, ${tally.ok} answered 200 ${JSON.stringify(Object.fromEntries(tally.results))}, ` +
    `errors ${JSON.stringify(Object.fromEntries(tally.errors))}`;

  return { tally, assertVerifiedAnswer, assertWireAnswer, assertCorruptedWires, summary };
}

/**
 * Google's retry of a request (the same body, a new requestTimestamp) gets the first answer: a 200's
 * body again (the stored answer), or the same error (errors are never stored: the retry is evaluated
 * afresh, to the same answer). Returns whether the first was a 200, i.e. whether its requestId is taken.
 */
export function assertRetryAnswer(first: GoogleReply, again: GoogleReply): boolean {
  if (first.status !== 200) {
    assert.deepEqual(
      [again.status, again.body.errorResponseCode, again.body.errorDescription],
      [first.status, first.body.errorResponseCode, first.body.errorDescription],
    );
    return false;
  }
  assert.deepEqual(withoutHeader(again.body), withoutHeader(first.body));
  return true;
}

/** Records in one of the stack's tables (a consistent count scan). */
export async function countItems(stack: LocalStack, table: string): Promise<number> {
  let count = 0;
  let start: ScanCommandOutput["LastEvaluatedKey"];
  for (let page = 0; page < 1000; page++) {
    const out = await stack.dynamodb.send(
      new ScanCommand({
        TableName: table,
        Select: "COUNT",
        ConsistentRead: true,
        ...(start && { ExclusiveStartKey: start }),
      }),
    );
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
    if (!start) return count;
  }
  throw new Error(`${table} scan did not end`);
}
