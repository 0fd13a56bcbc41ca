import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checkRequestHeader, type PaymentRequest, type RequestHeader } from "../../shared/protocol/common.ts";
import { ErrorResponseCode, ProtocolError } from "../../shared/protocol/errors.ts";
import { INT64_MAX } from "../../shared/protocol/money.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import {
  amountString,
  buildWire,
  type Case,
  CURRENCIES,
  currencyString,
  type Edit,
  type FieldSpec,
  objectAt,
  otherTypeValue,
  REQUEST_ID,
  requestIdString,
  VALIDATION_CODES,
  valueAt,
} from "./arbitraries.ts";

export type Outcome<R> = { ok: R } | { error: ProtocolError };

/**
 * The validation layer of one method (header check, then its schema) as its service runs it on an
 * opened body, with the checks every fuzz property shares: whatever JSON arrives, the answer is a
 * parsed request or a ProtocolError with a documented code, its table status and a description
 * that names no customer secret; never any other exception.
 */
export function validationHarness<R>(parse: (body: Record<string, unknown>) => R, now: number) {
  /** Every error description produced, to check none names a customer secret. */
  const descriptions: string[] = [];
  const secrets = allSecrets();

  /** Runs the layer on JSON text (parsed as the edge parses it); any non-ProtocolError is rethrown. */
  function validate(json: string): Outcome<R> {
    const body: unknown = JSON.parse(json);
    try {
      checkRequestHeader(body, now);
      return { ok: parse(body as Record<string, unknown>) };
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      descriptions.push(error.description);
      return { error };
    }
  }

  /** The property every body must satisfy; returns the outcome for more specific checks. */
  function assertOutcome(json: string): Outcome<R> {
    const outcome = validate(json);
    if ("error" in outcome) {
      const { code, status, description } = outcome.error;
      assert.ok(VALIDATION_CODES.includes(code), `code ${code} is not one the validation layer documents`);
      assert.equal(status, ErrorResponseCode[code], `${code} travels with ${ErrorResponseCode[code]}`);
      assert.equal(typeof description, "string");
      assert.ok(description.length > 0);
      assert.deepEqual(leaks([description], secrets), [], "the description names no customer secret");
    }
    return outcome;
  }

  const error = (outcome: Outcome<R>, json: string): ProtocolError => {
    assert.ok("error" in outcome, `expected an error for ${json.slice(0, 300)}`);
    return outcome.error;
  };
  const parsed = (outcome: Outcome<R>): R => {
    assert.ok(
      "ok" in outcome,
      `expected a parsed request, got ${"error" in outcome && outcome.error.message}`,
    );
    return outcome.ok;
  };
  /** The error of `json` is `code` and its description names `path` (and never its value). */
  function assertFieldError(json: string, code: ErrorResponseCode, path: string) {
    const e = error(assertOutcome(json), json);
    assert.equal(e.code, code, `${e.message} (expected ${code} naming ${path})`);
    assert.ok(e.description.startsWith(`${path} `), `"${e.description}" names ${path}`);
  }

  const stamp = (base: Record<string, unknown>) => buildWire({ base, edits: [] }, now);
  const withValue = (base: Record<string, unknown>, path: readonly string[], value: unknown) =>
    buildWire({ base, edits: [{ op: "set", path, value }] }, now);

  return { descriptions, assertOutcome, error, parsed, assertFieldError, stamp, withValue };
}

/** The members both methods share are kept as sent, the amount as that BigInt. */
export function assertPaymentKept(r: PaymentRequest, body: Record<string, unknown>) {
  assert.equal(typeof r.amount, "bigint");
  assert.equal(r.amount, BigInt(body.amount as string));
  assert.equal(r.requestHeader.requestId, valueAt(body, ["requestHeader", "requestId"]));
  assert.equal(r.paymentIntegratorAccountId, body.paymentIntegratorAccountId);
  assert.equal(r.transactionDescription, body.transactionDescription);
  assert.equal(r.currencyCode, body.currencyCode);
}

/** A requestHeader, valid or with any member any JSON (for bodies built from arbitrary JSON). */
export const looseHeaderArb = (now: number) =>
  fc.record(
    {
      protocolVersion: fc.oneof(
        fc.constant({ major: 1, minor: 0, revision: 0 }),
        fc.record({ major: fc.jsonValue(), minor: fc.jsonValue(), revision: fc.jsonValue() }),
      ),
      requestId: fc.oneof(requestIdString, fc.jsonValue()),
      requestTimestamp: fc.oneof(fc.constant(String(now)), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );

export interface SharedProperties {
  /** Valid requests of the method (generated and from the demo fixture). */
  baseArb: fc.Arbitrary<Record<string, unknown>>;
  /** One mutation of a valid request; hostile edits (long, multi-byte); a deeply nested one. */
  editArb: fc.Arbitrary<Edit>;
  hostileEditsArb: fc.Arbitrary<Edit[]>;
  deepEditArb: fc.Arbitrary<Edit>;
  fields: readonly FieldSpec[];
  /** Runs of the broad properties (the field-by-field ones run 1000 or fewer). */
  runs: { jsonValues: number; mutations: number };
  /** The member holding the amount of micros, in the request and parsed ("amount" unless said). */
  amountField?: string;
}

/** What every method's parsed request has: its header and a currency. */
type Parsed = { requestHeader: RequestHeader; currencyCode: string };

/**
 * The properties every money-moving method must have, as tests: any JSON value or mutation gets a
 * documented answer; the amount, currencyCode, requestId and requestTimestamp are accepted exactly
 * when valid; a member of another JSON type is INVALID_FIELD_VALUE naming it.
 */
export function sharedValidationTests<R extends Parsed>(
  h: ReturnType<typeof validationHarness<R>>,
  p: SharedProperties,
  now: number,
) {
  test("arbitrary JSON values as the body", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        h.assertOutcome(JSON.stringify(value));
      }),
      { numRuns: p.runs.jsonValues },
    );
  });

  test("mutations of a valid request: fields removed, retyped, nulled, unknown ones added, unions doubled, clock skewed", () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: p.baseArb,
      edits: fc.array(p.editArb, { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(caseArb, (c) => {
        h.assertOutcome(buildWire(c, now));
      }),
      { numRuns: p.runs.mutations },
    );
  });

  test("long identifiers and descriptions in 1-4 byte characters, deep nesting", () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: p.baseArb,
      edits: fc
        .array(
          fc.oneof(
            p.hostileEditsArb,
            p.deepEditArb.map((e) => [e]),
          ),
          { minLength: 1, maxLength: 3 },
        )
        .map((lists) => lists.flat()),
    });
    fc.assert(
      fc.property(caseArb, (c) => {
        h.assertOutcome(buildWire(c, now));
      }),
      { numRuns: 200 },
    );
  });

  const amountField = p.amountField ?? "amount";
  test(`${amountField}: accepted exactly when it is 1..int64 max in plain ASCII digits, as that BigInt`, () => {
    fc.assert(
      fc.property(p.baseArb, amountString, (base, amount) => {
        const json = h.withValue(base, [amountField], amount);
        const valid = /^[1-9][0-9]{0,18}$/.test(amount) && BigInt(amount) <= INT64_MAX;
        if (valid) {
          const r = h.parsed(h.assertOutcome(json)) as unknown as Record<string, unknown>;
          assert.equal(r[amountField], BigInt(amount));
        } else h.assertFieldError(json, "INVALID_FIELD_VALUE", amountField);
      }),
      { numRuns: 1000 },
    );
  });

  test("currencyCode: accepted exactly when it is an ISO 4217 code, upper case", () => {
    fc.assert(
      fc.property(p.baseArb, currencyString, (base, currency) => {
        const json = h.withValue(base, ["currencyCode"], currency);
        if (CURRENCIES.includes(currency))
          assert.equal(h.parsed(h.assertOutcome(json)).currencyCode, currency);
        else h.assertFieldError(json, "INVALID_FIELD_VALUE", "currencyCode");
      }),
      { numRuns: 1000 },
    );
  });

  test("requestId: accepted exactly when it is 1-100 of a-z A-Z 0-9 : - _", () => {
    fc.assert(
      fc.property(p.baseArb, requestIdString, (base, id) => {
        const json = h.withValue(base, ["requestHeader", "requestId"], id);
        if (REQUEST_ID.test(id)) assert.equal(h.parsed(h.assertOutcome(json)).requestHeader.requestId, id);
        else h.assertFieldError(json, "INVALID_FIELD_VALUE", "requestHeader.requestId");
      }),
      { numRuns: 1000 },
    );
  });

  test("requestTimestamp: accepted within ±60 s of our clock, else REQUEST_TIMESTAMP_OUT_OF_RANGE", () => {
    const offset = fc.oneof(
      fc.integer({ min: -60_000, max: 60_000 }),
      fc.constantFrom(-60_001, 60_001, -60_000, 60_000),
      fc.integer({ min: -1e15, max: 1e16 }),
    );
    fc.assert(
      fc.property(p.baseArb, offset, (base, offsetMs) => {
        const json = buildWire({ base, edits: [{ op: "timestamp", offsetMs }] }, now);
        const stamp = now + offsetMs;
        if (stamp < 0 || String(stamp).length > 16) {
          h.assertFieldError(json, "INVALID_FIELD_VALUE", "requestHeader.requestTimestamp");
        } else if (Math.abs(offsetMs) <= 60_000) {
          h.parsed(h.assertOutcome(json));
        } else {
          assert.equal(h.error(h.assertOutcome(json), json).code, "REQUEST_TIMESTAMP_OUT_OF_RANGE");
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("a member replaced by a value of another JSON type (an array is not an object): INVALID_FIELD_VALUE naming it", () => {
    // Fields whose parent the base has (so the replaced member is the only thing wrong).
    const caseArb = p.baseArb.chain((base) =>
      fc.tuple(
        fc.constant(base),
        fc
          .constantFrom(...p.fields.filter((f) => objectAt(base, f.path.slice(0, -1)) !== undefined))
          .chain((f) => fc.tuple(fc.constant(f.path), otherTypeValue(f.type))),
      ),
    );
    fc.assert(
      fc.property(caseArb, ([base, [path, value]]) => {
        h.assertFieldError(h.withValue(base, path, value), "INVALID_FIELD_VALUE", path.join("."));
      }),
      { numRuns: 500 },
    );
  });
}
