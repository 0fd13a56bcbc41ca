import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type CaptureRequest, parseCaptureRequest } from "../../shared/protocol/capture.ts";
import { capturedLogs, captureServiceLogs } from "../support/log-capture.ts";
import { leaks } from "../support/secrets.ts";
import {
  buildWire,
  deepEditArb,
  demoRequestArb,
  editArb,
  FIELDS,
  FOP_MEMBERS,
  hostileEditsArb,
  MISSING_FOP,
  REQUIRED,
  validRequestArb,
  valueAt,
} from "./arbitraries.ts";
import {
  assertPaymentKept,
  looseHeaderArb,
  sharedValidationTests,
  validationHarness,
} from "./validation-harness.ts";

/**
 * The validation layer alone (header check, then the capture schema), as the capture service runs
 * it on an opened body: whatever JSON arrives, the answer is a parsed request or a ProtocolError
 * with a documented code and its table status; never any other exception.
 */
captureServiceLogs(import.meta.filename);
const NOW = Date.now();
let sequence = 0;
const nextId = () => `fuzz-${++sequence}`;

const h = validationHarness<CaptureRequest>(parseCaptureRequest, NOW);
const { descriptions, assertOutcome, error, parsed, assertFieldError, stamp, withValue } = h;
const baseArb = fc.oneof(validRequestArb, demoRequestArb(nextId));

describe("capture validation: the properties both methods share", () => {
  sharedValidationTests(
    h,
    {
      baseArb,
      editArb: editArb({ maxString: 300 }),
      hostileEditsArb: hostileEditsArb(),
      deepEditArb: deepEditArb(10_000),
      fields: FIELDS,
      runs: { jsonValues: 2000, mutations: 3000 },
    },
    NOW,
  );
});

describe("capture validation: any JSON gets a documented answer", () => {
  test("objects with the request's member names holding arbitrary JSON", () => {
    const members = Object.fromEntries(
      FIELDS.filter((f) => f.path.length === 1).map((f) => [f.path[0]!, fc.jsonValue({ maxDepth: 3 })]),
    );
    fc.assert(
      fc.property(
        fc.record({ ...members, requestHeader: looseHeaderArb(NOW) }, { requiredKeys: [] }),
        (body) => {
          assertOutcome(JSON.stringify(body));
        },
      ),
      { numRuns: 2000 },
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
        assertPaymentKept(r, body);
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
