import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type AsynchronousCaptureRequest,
  parseAsynchronousCaptureRequest,
  VPA_PATTERN,
} from "../../shared/protocol/asynchronous-capture.ts";
import { capturedLogs, captureServiceLogs } from "../support/log-capture.ts";
import { leaks } from "../support/secrets.ts";
import {
  ASYNC_FIELDS,
  ASYNC_FOP_MEMBERS,
  ASYNC_MISSING_FOP,
  ASYNC_REQUIRED,
  amountString,
  asyncDeepEditArb,
  asyncEditArb,
  asyncHostileEditsArb,
  buildWire,
  currencyString,
  demoAsynchronousCaptureRequestArb,
  isDocumentedVpa,
  objectAt,
  otherTypeValue,
  validAsynchronousCaptureRequestArb,
  valueAt,
  vpaString,
} from "./arbitraries.ts";
import {
  assertPaymentKept,
  looseHeaderArb,
  sharedValidationTests,
  validationHarness,
} from "./validation-harness.ts";

/**
 * The validation layer of asynchronousCapture alone (header check, then the asynchronousCapture
 * schema), as the service runs it on an opened body: whatever JSON arrives, the answer is a parsed
 * request or a ProtocolError with a documented code and its table status; never any other exception.
 */
captureServiceLogs(import.meta.filename);
const NOW = Date.now();
let sequence = 0;
const nextId = () => `fuzz-async-${++sequence}`;

const h = validationHarness<AsynchronousCaptureRequest>(parseAsynchronousCaptureRequest, NOW);
const { descriptions, assertOutcome, error, parsed, assertFieldError, stamp, withValue } = h;
const baseArb = fc.oneof(validAsynchronousCaptureRequestArb, demoAsynchronousCaptureRequestArb(nextId));

describe("asynchronousCapture validation: the properties both methods share", () => {
  sharedValidationTests(
    h,
    {
      baseArb,
      editArb: asyncEditArb({ maxString: 300 }),
      hostileEditsArb: asyncHostileEditsArb(),
      deepEditArb: asyncDeepEditArb(10_000),
      fields: ASYNC_FIELDS,
      runs: { jsonValues: 1000, mutations: 1500 },
    },
    NOW,
  );
});

/** The base with exactly this UPI member (the token member removed). */
const withVpa = (base: Record<string, unknown>, vpa: unknown) =>
  buildWire(
    {
      base,
      edits: [
        { op: "delete", path: ["tokenizedInstrumentDetails"] },
        { op: "set", path: ["upiDetails"], value: { vpa } },
      ],
    },
    NOW,
  );
const present = (body: Record<string, unknown>, member: string) =>
  body[member] !== undefined && body[member] !== null;

describe("asynchronousCapture validation: any JSON gets a documented answer", () => {
  test("objects with the request's member names holding arbitrary JSON, VPAs and tokens", () => {
    const members = Object.fromEntries(
      ASYNC_FIELDS.filter((f) => f.path.length === 1).map((f) => [f.path[0]!, fc.jsonValue({ maxDepth: 3 })]),
    );
    const upiDetails = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.record({ vpa: fc.oneof(vpaString, fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
    );
    const tokenizedInstrumentDetails = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.record(
        { googlePaymentToken: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 1 })) },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            ...members,
            requestHeader: looseHeaderArb(NOW),
            paymentIntegratorAccountId: fc.oneof(fc.constant("InvisiCashIN_INR"), fc.jsonValue()),
            currencyCode: fc.oneof(currencyString, fc.jsonValue()),
            amount: fc.oneof(amountString, fc.jsonValue()),
            upiDetails,
            tokenizedInstrumentDetails,
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

describe("asynchronousCapture validation: what a valid request parses to", () => {
  test("a valid request parses, with amount === BigInt(amount), the one non-null member as fop, every field kept", () => {
    fc.assert(
      fc.property(baseArb, (base) => {
        const json = stamp(base);
        const body = JSON.parse(json) as Record<string, unknown>;
        const r = parsed(assertOutcome(json));
        assertPaymentKept(r, body);
        const fop = present(body, "upiDetails")
          ? { kind: "VPA", vpa: valueAt(body, ["upiDetails", "vpa"]) }
          : {
              kind: "TOKEN",
              googlePaymentToken: valueAt(body, ["tokenizedInstrumentDetails", "googlePaymentToken"]),
            };
        assert.deepEqual(r.fop, fop);
      }),
      { numRuns: 1000 },
    );
  });

  test("upiDetails.vpa: accepted exactly when it matches VPA_PATTERN (which says what the documented shape says), kept verbatim", () => {
    fc.assert(
      fc.property(baseArb, vpaString, (base, vpa) => {
        assert.equal(
          VPA_PATTERN.test(vpa),
          isDocumentedVpa(vpa),
          `VPA_PATTERN and the documented shape disagree on ${JSON.stringify(vpa)}`,
        );
        const json = withVpa(base, vpa);
        if (VPA_PATTERN.test(vpa)) assert.deepEqual(parsed(assertOutcome(json)).fop, { kind: "VPA", vpa });
        else assertFieldError(json, "INVALID_FIELD_VALUE", "upiDetails.vpa");
      }),
      { numRuns: 1500 },
    );
  });

  test("upiDetails.vpa of another JSON type, or null: INVALID_FIELD_VALUE / MISSING_REQUIRED_FIELD naming it", () => {
    fc.assert(
      fc.property(baseArb, fc.option(otherTypeValue("string"), { nil: null }), (base, value) => {
        const json = withVpa(base, value);
        if (value !== null) assertFieldError(json, "INVALID_FIELD_VALUE", "upiDetails.vpa");
        else {
          const e = error(assertOutcome(json), json);
          assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", "missing upiDetails.vpa"]);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("asynchronousCapture validation: a refused request names the field", () => {
  test("a member removed: MISSING_REQUIRED_FIELD naming it if required (or the union if it was its only member), else still valid", () => {
    const caseArb = baseArb.chain((base) =>
      fc.tuple(
        fc.constant(base),
        fc.constantFrom(
          ...ASYNC_FIELDS.filter((f) => valueAt(base, f.path) !== undefined).map((f) => f.path),
        ),
      ),
    );
    fc.assert(
      fc.property(caseArb, ([base, path]) => {
        const json = buildWire({ base, edits: [{ op: "delete", path }] }, NOW);
        const dotted = path.join(".");
        const outcome = assertOutcome(json);
        if (ASYNC_REQUIRED.has(dotted)) {
          const e = error(outcome, json);
          assert.equal(e.code, "MISSING_REQUIRED_FIELD", e.message);
          assert.equal(e.description, `missing ${dotted}`);
        } else if ((ASYNC_FOP_MEMBERS as readonly string[]).includes(dotted) && present(base, dotted)) {
          const e = error(outcome, json);
          assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", ASYNC_MISSING_FOP]);
        } else {
          parsed(outcome);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("a member set to null: a required one is MISSING_REQUIRED_FIELD naming it; a union member counts as absent", () => {
    const caseArb = baseArb.chain((base) =>
      fc.tuple(
        fc.constant(base),
        fc.constantFrom(
          ...ASYNC_FIELDS.filter((f) => objectAt(base, f.path.slice(0, -1)) !== undefined).map((f) => f.path),
        ),
      ),
    );
    fc.assert(
      fc.property(caseArb, ([base, path]) => {
        const json = withValue(base, path, null);
        const dotted = path.join(".");
        const outcome = assertOutcome(json);
        const union = (ASYNC_FOP_MEMBERS as readonly string[]).includes(dotted);
        if (!union) {
          const e = error(outcome, json);
          assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", `missing ${dotted}`]);
        } else if (ASYNC_FOP_MEMBERS.some((m) => m !== dotted && present(base, m))) {
          // The other member is there: the request stands on it.
          const r = parsed(outcome);
          assert.equal(r.fop.kind, dotted === "upiDetails" ? "TOKEN" : "VPA");
        } else {
          const e = error(outcome, json);
          assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", ASYNC_MISSING_FOP]);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("both union members, or neither (absent or null): INVALID_FIELD_VALUE / MISSING_REQUIRED_FIELD naming fopDetails", () => {
    const upi = fc.constantFrom("customer@demobank", "closed@demobank", "a@bc").map((vpa) => ({ vpa }));
    const token = fc
      .constantFrom("gpt-demo-success", "gpt-demo-closed", "t")
      .map((googlePaymentToken) => ({ googlePaymentToken }));
    const absentOrNull = fc.constantFrom<{ op: "delete" } | { op: "null" }>({ op: "delete" }, { op: "null" });
    fc.assert(
      fc.property(
        baseArb,
        fc.oneof(
          fc.tuple(upi, token).map(([u, t]) => ({ both: true as const, u, t })),
          fc.tuple(absentOrNull, absentOrNull).map(([u, t]) => ({ both: false as const, u, t })),
        ),
        (base, c) => {
          const edits = ASYNC_FOP_MEMBERS.map((member, i) => {
            const how = i === 0 ? c.u : c.t;
            if (c.both) return { op: "set" as const, path: [member], value: how };
            return "op" in how && how.op === "delete"
              ? { op: "delete" as const, path: [member] }
              : { op: "set" as const, path: [member], value: null };
          });
          const json = buildWire({ base, edits }, NOW);
          if (c.both) assertFieldError(json, "INVALID_FIELD_VALUE", "fopDetails");
          else {
            const e = error(assertOutcome(json), json);
            assert.deepEqual([e.code, e.description], ["MISSING_REQUIRED_FIELD", ASYNC_MISSING_FOP]);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("asynchronousCapture validation: logs", () => {
  test("no token, VPA or OTP appears in this file's log lines or error descriptions", () => {
    assert.ok(descriptions.length > 3000, `collected ${descriptions.length} error descriptions`);
    assert.deepEqual(leaks(capturedLogs), []);
    assert.deepEqual(leaks(descriptions), []);
  });
});
