import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type CaptureRequest, parseCaptureRequest } from "../../shared/protocol/capture.ts";
import { checkRequestHeader } from "../../shared/protocol/common.ts";
import { ErrorResponseCode, ProtocolError } from "../../shared/protocol/errors.ts";
import { INT64_MAX } from "../../shared/protocol/money.ts";
import { capturedLogs, captureServiceLogs } from "../support/log-capture.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import {
  amountString,
  buildWire,
  type Case,
  CURRENCIES,
  currencyString,
  deepEditArb,
  demoRequestArb,
  editArb,
  FIELDS,
  FOP_MEMBERS,
  hostileEditsArb,
  MISSING_FOP,
  objectAt,
  otherTypeValue,
  REQUEST_ID,
  REQUIRED,
  requestIdString,
  VALIDATION_CODES,
  validRequestArb,
  valueAt,
} from "./arbitraries.ts";

/**
 * The validation layer alone (header check, then the capture schema), as the capture service runs
 * it on an opened body: whatever JSON arrives, the answer is a parsed request or a ProtocolError
 * with a documented code and its table status; never any other exception.
 */
captureServiceLogs(import.meta.filename);
const NOW = Date.now();
let sequence = 0;
const nextId = () => `fuzz-${++sequence}`;

type Outcome = { ok: CaptureRequest } | { error: ProtocolError };
/** Every error description produced, to check none names a customer secret. */
const descriptions: string[] = [];
const SECRETS = allSecrets();

/** Runs the layer on JSON text (parsed as the edge parses it); any non-ProtocolError is rethrown. */
function validate(json: string): Outcome {
  const body: unknown = JSON.parse(json);
  try {
    checkRequestHeader(body, NOW);
    return { ok: parseCaptureRequest(body as Record<string, unknown>) };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    descriptions.push(error.description);
    return { error };
  }
}

/** The property every body must satisfy; returns the outcome for more specific checks. */
function assertOutcome(json: string): Outcome {
  const outcome = validate(json);
  if ("error" in outcome) {
    const { code, status, description } = outcome.error;
    assert.ok(VALIDATION_CODES.includes(code), `code ${code} is not one the validation layer documents`);
    assert.equal(status, ErrorResponseCode[code], `${code} travels with ${ErrorResponseCode[code]}`);
    assert.equal(typeof description, "string");
    assert.ok(description.length > 0);
    assert.deepEqual(leaks([description], SECRETS), [], "the description names no customer secret");
  }
  return outcome;
}

const error = (outcome: Outcome, json: string): ProtocolError => {
  assert.ok("error" in outcome, `expected an error for ${json.slice(0, 300)}`);
  return outcome.error;
};
const parsed = (outcome: Outcome): CaptureRequest => {
  assert.ok("ok" in outcome, `expected a parsed request, got ${"error" in outcome && outcome.error.message}`);
  return outcome.ok;
};
/** The error of `json` is `code` and its description names `path` (and never its value). */
function assertFieldError(json: string, code: ErrorResponseCode, path: string) {
  const e = error(assertOutcome(json), json);
  assert.equal(e.code, code, `${e.message} (expected ${code} naming ${path})`);
  assert.ok(e.description.startsWith(`${path} `), `"${e.description}" names ${path}`);
}

const baseArb = fc.oneof(validRequestArb, demoRequestArb(nextId));
const stamp = (base: Record<string, unknown>) => buildWire({ base, edits: [] }, NOW);
const withValue = (base: Record<string, unknown>, path: readonly string[], value: unknown) =>
  buildWire({ base, edits: [{ op: "set", path, value }] }, NOW);

describe("capture validation: any JSON gets a documented answer", () => {
  test("arbitrary JSON values as the body", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assertOutcome(JSON.stringify(value));
      }),
      { numRuns: 2000 },
    );
  });

  test("objects with the request's member names holding arbitrary JSON", () => {
    const members = Object.fromEntries(
      FIELDS.filter((f) => f.path.length === 1).map((f) => [f.path[0]!, fc.jsonValue({ maxDepth: 3 })]),
    );
    const header = fc.record(
      {
        protocolVersion: fc.oneof(
          fc.constant({ major: 1, minor: 0, revision: 0 }),
          fc.record({ major: fc.jsonValue(), minor: fc.jsonValue(), revision: fc.jsonValue() }),
        ),
        requestId: fc.oneof(requestIdString, fc.jsonValue()),
        requestTimestamp: fc.oneof(fc.constant(String(NOW)), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.record({ ...members, requestHeader: header }, { requiredKeys: [] }), (body) => {
        assertOutcome(JSON.stringify(body));
      }),
      { numRuns: 2000 },
    );
  });

  test("mutations of a valid request: fields removed, retyped, unknown ones added, unions doubled, clock skewed", () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: baseArb,
      edits: fc.array(editArb({ maxString: 300 }), { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(caseArb, (c) => {
        assertOutcome(buildWire(c, NOW));
      }),
      { numRuns: 3000 },
    );
  });

  test("long identifiers and descriptions in 1-4 byte characters, deep nesting", () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: baseArb,
      edits: fc
        .array(
          fc.oneof(
            hostileEditsArb(),
            deepEditArb(10_000).map((e) => [e]),
          ),
          { minLength: 1, maxLength: 3 },
        )
        .map((lists) => lists.flat()),
    });
    fc.assert(
      fc.property(caseArb, (c) => {
        assertOutcome(buildWire(c, NOW));
      }),
      { numRuns: 200 },
    );
  });
});

describe("capture validation: what a valid request parses to", () => {
  test("a valid request parses, with amount === BigInt(amount) and every field kept", () => {
    fc.assert(
      fc.property(baseArb, (base) => {
        const json = stamp(base);
        const body = JSON.parse(json) as Record<string, unknown>;
        const r = parsed(assertOutcome(json));
        assert.equal(typeof r.amount, "bigint");
        assert.equal(r.amount, BigInt(body.amount as string));
        assert.equal(r.requestHeader.requestId, valueAt(body, ["requestHeader", "requestId"]));
        assert.equal(r.paymentIntegratorAccountId, body.paymentIntegratorAccountId);
        assert.equal(r.transactionDescription, body.transactionDescription);
        assert.equal(r.currencyCode, body.currencyCode);
        const fop =
          body.googlePaymentToken !== undefined
            ? { kind: "TOKEN", googlePaymentToken: body.googlePaymentToken }
            : body.mandateDetails !== undefined
              ? { kind: "MANDATE", ...(body.mandateDetails as object) }
              : { kind: "MANDATE_WITH_NOTIFICATION", ...(body.mandateWithNotificationDetails as object) };
        assert.deepEqual(r.fop, fop);
        const verification =
          body.authenticationRequestId !== undefined
            ? { kind: "AUTHENTICATION", authenticationRequestId: body.authenticationRequestId }
            : body.otpVerification !== undefined
              ? { kind: "OTP", ...(body.otpVerification as object) }
              : { kind: "NONE" };
        assert.deepEqual(r.verification, verification);
      }),
      { numRuns: 2000 },
    );
  });

  test("amount: accepted exactly when it is 1..int64 max in plain ASCII digits, as that BigInt", () => {
    fc.assert(
      fc.property(baseArb, amountString, (base, amount) => {
        const json = withValue(base, ["amount"], amount);
        const valid = /^[1-9][0-9]{0,18}$/.test(amount) && BigInt(amount) <= INT64_MAX;
        if (valid) assert.equal(parsed(assertOutcome(json)).amount, BigInt(amount));
        else assertFieldError(json, "INVALID_FIELD_VALUE", "amount");
      }),
      { numRuns: 2000 },
    );
  });

  test("currencyCode: accepted exactly when it is an ISO 4217 code, upper case", () => {
    fc.assert(
      fc.property(baseArb, currencyString, (base, currency) => {
        const json = withValue(base, ["currencyCode"], currency);
        if (CURRENCIES.includes(currency)) assert.equal(parsed(assertOutcome(json)).currencyCode, currency);
        else assertFieldError(json, "INVALID_FIELD_VALUE", "currencyCode");
      }),
      { numRuns: 1000 },
    );
  });

  test("requestId: accepted exactly when it is 1-100 of a-z A-Z 0-9 : - _", () => {
    fc.assert(
      fc.property(baseArb, requestIdString, (base, id) => {
        const json = withValue(base, ["requestHeader", "requestId"], id);
        if (REQUEST_ID.test(id)) assert.equal(parsed(assertOutcome(json)).requestHeader.requestId, id);
        else assertFieldError(json, "INVALID_FIELD_VALUE", "requestHeader.requestId");
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
      fc.property(baseArb, offset, (base, offsetMs) => {
        const json = buildWire({ base, edits: [{ op: "timestamp", offsetMs }] }, NOW);
        const stamp = NOW + offsetMs;
        if (stamp < 0 || String(stamp).length > 16) {
          assertFieldError(json, "INVALID_FIELD_VALUE", "requestHeader.requestTimestamp");
        } else if (Math.abs(offsetMs) <= 60_000) {
          parsed(assertOutcome(json));
        } else {
          assert.equal(error(assertOutcome(json), json).code, "REQUEST_TIMESTAMP_OUT_OF_RANGE");
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("capture validation: a refused request names the field", () => {
  test("a member removed: MISSING_REQUIRED_FIELD naming it if required, else still valid", () => {
    const caseArb = baseArb.chain((base) =>
      fc.tuple(
        fc.constant(base),
        fc.constantFrom(...FIELDS.filter((f) => valueAt(base, f.path) !== undefined).map((f) => f.path)),
      ),
    );
    fc.assert(
      fc.property(caseArb, ([base, path]) => {
        const json = buildWire({ base, edits: [{ op: "delete", path }] }, NOW);
        const dotted = path.join(".");
        const outcome = assertOutcome(json);
        if (REQUIRED.has(dotted) || (FOP_MEMBERS as readonly string[]).includes(dotted)) {
          const e = error(outcome, json);
          assert.equal(e.code, "MISSING_REQUIRED_FIELD", e.message);
          assert.equal(e.description, REQUIRED.has(dotted) ? `missing ${dotted}` : MISSING_FOP);
        } else {
          parsed(outcome);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("a member replaced by a value of another JSON type (an array is not an object): INVALID_FIELD_VALUE naming it", () => {
    // Fields whose parent the base has (so the replaced member is the only thing wrong).
    const caseArb = baseArb.chain((base) =>
      fc.tuple(
        fc.constant(base),
        fc
          .constantFrom(...FIELDS.filter((f) => objectAt(base, f.path.slice(0, -1)) !== undefined))
          .chain((f) => fc.tuple(fc.constant(f.path), otherTypeValue(f.type))),
      ),
    );
    fc.assert(
      fc.property(caseArb, ([base, [path, value]]) => {
        assertFieldError(withValue(base, path, value), "INVALID_FIELD_VALUE", path.join("."));
      }),
      { numRuns: 1000 },
    );
  });

  test("two members of a union: INVALID_FIELD_VALUE naming the union", () => {
    const second = {
      googlePaymentToken: "gpt-demo-success",
      mandateDetails: { mandateId: "mandate-demo-active" },
      mandateWithNotificationDetails: {
        mandateId: "mandate-demo-active",
        upcomingTransactionNotificationId: "utn-demo-valid",
      },
      authenticationRequestId: "auth-demo-main",
      otpVerification: { sendOtpRequestId: "otp-demo-fresh", otp: "482913" },
    };
    const caseArb = baseArb.chain((base) => {
      const fopFree = FOP_MEMBERS.filter((m) => base[m] === undefined);
      const verificationPresent =
        base.authenticationRequestId !== undefined || base.otpVerification !== undefined;
      const options = [
        ...fopFree.map((m) => ({ member: m, union: "fopDetails" })),
        ...(verificationPresent
          ? [
              {
                member: base.otpVerification ? "authenticationRequestId" : "otpVerification",
                union: "account_verification",
              },
            ]
          : []),
      ];
      return fc.tuple(fc.constant(base), fc.constantFrom(...options));
    });
    fc.assert(
      fc.property(caseArb, ([base, { member, union }]) => {
        const json = withValue(base, [member], second[member as keyof typeof second]);
        assertFieldError(json, "INVALID_FIELD_VALUE", union);
      }),
      { numRuns: 500 },
    );
  });
});

describe("capture validation: logs", () => {
  test("no token or OTP appears in this file's log lines or error descriptions", () => {
    assert.ok(descriptions.length > 3000, `collected ${descriptions.length} error descriptions`);
    assert.deepEqual(leaks(capturedLogs), []);
    assert.deepEqual(leaks(descriptions), []);
  });
});
