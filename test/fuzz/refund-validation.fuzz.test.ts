import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseRefundRequest, type RefundRequest } from "../../shared/protocol/refund.ts";
import { capturedLogs, captureServiceLogs } from "../support/log-capture.ts";
import { leaks } from "../support/secrets.ts";
import {
  amountString,
  buildWire,
  currencyString,
  demoRefundRequestArb,
  objectAt,
  otherTypeValue,
  REFUND_FIELDS,
  REQUEST_ID,
  refundDeepEditArb,
  refundEditArb,
  refundHostileEditsArb,
  refundUnknownKey,
  requestIdString,
  validRefundRequestArb,
  valueAt,
} from "./arbitraries.ts";
import { looseHeaderArb, sharedValidationTests, validationHarness } from "./validation-harness.ts";

/**
 * The validation layer of refund alone (header check, then the refund schema), as the refund service
 * runs it on an opened body: whatever JSON arrives, the answer is a parsed request or a ProtocolError
 * with a documented code and its table status; never any other exception. Every member is required
 * and none is nullable, so null counts as absent everywhere: MISSING_REQUIRED_FIELD naming it.
 */
captureServiceLogs(import.meta.filename);
const NOW = Date.now();
let sequence = 0;
const nextId = () => `fuzz-refund-${++sequence}`;

const h = validationHarness<RefundRequest>(parseRefundRequest, NOW);
const { descriptions, assertOutcome, error, parsed, assertFieldError, stamp, withValue } = h;
const baseArb = fc.oneof(
  validRefundRequestArb,
  demoRefundRequestArb(nextId, ["capture-1", "capture-2", "a:b_c-d"]),
);

describe("refund validation: the properties every money-moving method shares", () => {
  sharedValidationTests(
    h,
    {
      baseArb,
      editArb: refundEditArb({ maxString: 300 }),
      hostileEditsArb: refundHostileEditsArb(),
      deepEditArb: refundDeepEditArb(10_000),
      fields: REFUND_FIELDS,
      runs: { jsonValues: 1000, mutations: 2000 },
      amountField: "refundAmount",
    },
    NOW,
  );
});

describe("refund validation: any JSON gets a documented answer", () => {
  test("objects with the request's member names holding arbitrary JSON, amounts, currencies and requestIds", () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            requestHeader: looseHeaderArb(NOW),
            paymentIntegratorAccountId: fc.oneof(fc.constant("InvisiCashIN_INR"), fc.jsonValue()),
            captureRequestId: fc.oneof(requestIdString, fc.jsonValue({ maxDepth: 2 })),
            currencyCode: fc.oneof(currencyString, fc.jsonValue()),
            refundAmount: fc.oneof(amountString, fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
        (body) => {
          assertOutcome(JSON.stringify(body));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** The request as parsed, from the body that was sent: every member kept, the amount as that BigInt. */
const expectedOf = (body: Record<string, unknown>): RefundRequest => {
  const header = body.requestHeader as RefundRequest["requestHeader"];
  return {
    requestHeader: {
      protocolVersion: {
        major: header.protocolVersion.major,
        minor: header.protocolVersion.minor,
        revision: header.protocolVersion.revision,
      },
      requestId: header.requestId,
      requestTimestamp: header.requestTimestamp,
    },
    paymentIntegratorAccountId: body.paymentIntegratorAccountId as string,
    captureRequestId: body.captureRequestId as string,
    currencyCode: body.currencyCode as string,
    refundAmount: BigInt(body.refundAmount as string),
  };
};

describe("refund validation: what a valid request parses to", () => {
  test("a valid request parses to exactly its members, refundAmount === BigInt(refundAmount); unknown members are dropped", () => {
    fc.assert(
      fc.property(baseArb, (base) => {
        const json = stamp(base);
        assert.deepEqual(parsed(assertOutcome(json)), expectedOf(JSON.parse(json)));
      }),
      { numRuns: 1000 },
    );
  });

  test("unknown members anywhere (capture's and refundResultNotification's names among them), any JSON or null: ignored", () => {
    const objectPaths = [[], ["requestHeader"], ["requestHeader", "protocolVersion"]];
    const extra = fc.tuple(
      fc.constantFrom(...objectPaths),
      refundUnknownKey,
      fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 3 })),
    );
    fc.assert(
      fc.property(baseArb, fc.array(extra, { minLength: 1, maxLength: 4 }), (base, extras) => {
        const json = buildWire(
          { base, edits: extras.map(([parent, k, value]) => ({ op: "set", path: [...parent, k], value })) },
          NOW,
        );
        assert.deepEqual(parsed(assertOutcome(json)), expectedOf(JSON.parse(stamp(base))));
      }),
      { numRuns: 1000 },
    );
  });

  test("captureRequestId: accepted exactly when it is 1-100 of a-z A-Z 0-9 : - _ (a requestId of Google's), kept verbatim", () => {
    fc.assert(
      fc.property(baseArb, requestIdString, (base, id) => {
        const json = withValue(base, ["captureRequestId"], id);
        if (REQUEST_ID.test(id)) assert.equal(parsed(assertOutcome(json)).captureRequestId, id);
        else assertFieldError(json, "INVALID_FIELD_VALUE", "captureRequestId");
      }),
      { numRuns: 1000 },
    );
  });
});

describe("refund validation: a refused request names the field", () => {
  /** A base and one member of it (its parent present, so that member is the only thing changed). */
  const memberArb = baseArb.chain((base) =>
    fc.tuple(
      fc.constant(base),
      fc.constantFrom(
        ...REFUND_FIELDS.filter((f) => objectAt(base, f.path.slice(0, -1)) !== undefined).map((f) => f.path),
      ),
    ),
  );

  test("any member removed: MISSING_REQUIRED_FIELD naming it (every member is required)", () => {
    fc.assert(
      fc.property(memberArb, ([base, path]) => {
        assert.notEqual(valueAt(base, path), undefined);
        const json = buildWire({ base, edits: [{ op: "delete", path }] }, NOW);
        const e = error(assertOutcome(json), json);
        assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", `missing ${path.join(".")}`]);
      }),
      { numRuns: 500 },
    );
  });

  test("any member set to null: absent, so MISSING_REQUIRED_FIELD naming it (no member is nullable)", () => {
    fc.assert(
      fc.property(memberArb, ([base, path]) => {
        const json = withValue(base, path, null);
        const e = error(assertOutcome(json), json);
        assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", `missing ${path.join(".")}`]);
      }),
      { numRuns: 500 },
    );
  });

  test("captureRequestId of another JSON type, empty or past 100 characters: INVALID_FIELD_VALUE naming it", () => {
    const wrong = fc.oneof(
      otherTypeValue("string"),
      fc.constantFrom("", "a".repeat(101), "capture#1", "capture 1", "capture/1"),
    );
    fc.assert(
      fc.property(baseArb, wrong, (base, value) => {
        assertFieldError(
          withValue(base, ["captureRequestId"], value),
          "INVALID_FIELD_VALUE",
          "captureRequestId",
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe("refund validation: logs", () => {
  test("no token, VPA or OTP appears in this file's log lines or error descriptions", () => {
    assert.ok(descriptions.length > 3000, `collected ${descriptions.length} error descriptions`);
    assert.deepEqual(leaks(capturedLogs), []);
    assert.deepEqual(leaks(descriptions), []);
  });
});
