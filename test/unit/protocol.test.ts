import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseCaptureRequest } from "../../shared/protocol/capture.ts";
import { checkRequestHeader } from "../../shared/protocol/common.ts";
import { parseMicros } from "../../shared/protocol/money.ts";

const NOW = 1_800_000_000_000;
const valid = (): Record<string, unknown> => ({
  requestHeader: {
    protocolVersion: { major: 1, minor: 2, revision: 3 },
    requestId: "a-Z_0:9",
    requestTimestamp: String(NOW),
  },
  paymentIntegratorAccountId: "P",
  transactionDescription: "Google - Music",
  currencyCode: "INR",
  amount: "728000000",
  captureContext: {},
  googlePaymentToken: "tok",
});
const parse = (body: Record<string, unknown>) => {
  checkRequestHeader(body, NOW);
  return parseCaptureRequest(body);
};
const refuses = (body: Record<string, unknown>, code: string, description?: string) =>
  assert.throws(
    () => parse(body),
    (e: { code?: string; description?: string }) => {
      assert.equal(e.code, code);
      if (description !== undefined) assert.equal(e.description, description);
      return true;
    },
  );
const without = (path: string) => {
  const body = valid();
  const keys = path.split(".");
  let node = body as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
  delete node[keys.at(-1)!];
  return body;
};

describe("capture request validation", () => {
  test("a valid request parses, amount as bigint and the fop as one member", () => {
    const r = parse(valid());
    assert.equal(r.amount, 728_000_000n);
    assert.deepEqual(r.fop, { kind: "TOKEN", googlePaymentToken: "tok" });
    assert.deepEqual(r.verification, { kind: "NONE" });
  });

  for (const path of [
    "requestHeader",
    "requestHeader.requestId",
    "requestHeader.requestTimestamp",
    "requestHeader.protocolVersion",
    "requestHeader.protocolVersion.minor",
    "paymentIntegratorAccountId",
    "transactionDescription",
    "currencyCode",
    "amount",
    "captureContext",
  ]) {
    test(`missing ${path} → MISSING_REQUIRED_FIELD naming it`, () => {
      refuses(without(path), "MISSING_REQUIRED_FIELD", `missing ${path}`);
    });
  }

  test("wrong major version → INVALID_API_VERSION, whatever else is wrong", () => {
    const body = valid();
    (body.requestHeader as { protocolVersion: { major: number } }).protocolVersion.major = 2;
    delete body.amount;
    refuses(body, "INVALID_API_VERSION");
  });

  test("request timestamp outside ±60 s → REQUEST_TIMESTAMP_OUT_OF_RANGE; the edge is accepted", () => {
    const at = (t: number) => {
      const b = valid();
      (b.requestHeader as { requestTimestamp: string }).requestTimestamp = String(t);
      return b;
    };
    refuses(at(NOW - 60_001), "REQUEST_TIMESTAMP_OUT_OF_RANGE");
    refuses(at(NOW + 60_001), "REQUEST_TIMESTAMP_OUT_OF_RANGE");
    assert.doesNotThrow(() => parse(at(NOW + 60_000)));
  });

  test("requestId of other characters or over 100 → INVALID_FIELD_VALUE", () => {
    for (const id of ["has space", "a#b", "x".repeat(101), ""]) {
      const b = valid();
      (b.requestHeader as { requestId: string }).requestId = id;
      refuses(b, "INVALID_FIELD_VALUE");
    }
  });

  test("amounts: positive int64 micros only", () => {
    for (const amount of ["0", "-1", "1.5", "1e6", "01", "9223372036854775808", "", " 1", 728000000]) {
      refuses({ ...valid(), amount }, "INVALID_FIELD_VALUE");
    }
    assert.equal(parse({ ...valid(), amount: "9223372036854775807" }).amount, 9_223_372_036_854_775_807n);
  });

  test("currency must be ISO 4217", () => {
    for (const currencyCode of ["inr", "XYZ", "RUPEE", ""])
      refuses({ ...valid(), currencyCode }, "INVALID_FIELD_VALUE");
  });

  test("fopDetails: exactly one member", () => {
    refuses(without("googlePaymentToken"), "MISSING_REQUIRED_FIELD");
    refuses({ ...valid(), mandateDetails: { mandateId: "m" } }, "INVALID_FIELD_VALUE");
    const mandate = { ...without("googlePaymentToken"), mandateWithNotificationDetails: { mandateId: "m" } };
    refuses(
      mandate,
      "MISSING_REQUIRED_FIELD",
      "missing mandateWithNotificationDetails.upcomingTransactionNotificationId",
    );
  });

  test("account_verification: at most one member", () => {
    const both = {
      ...valid(),
      authenticationRequestId: "a",
      otpVerification: { sendOtpRequestId: "s", otp: "1" },
    };
    refuses(both, "INVALID_FIELD_VALUE");
    const otp = parse({ ...valid(), otpVerification: { sendOtpRequestId: "s", otp: "1" } });
    assert.deepEqual(otp.verification, { kind: "OTP", sendOtpRequestId: "s", otp: "1" });
  });

  test("wrong types are INVALID_FIELD_VALUE; unknown extra fields are ignored", () => {
    refuses({ ...valid(), captureContext: "x" }, "INVALID_FIELD_VALUE");
    refuses({ ...valid(), googlePaymentToken: 7 }, "INVALID_FIELD_VALUE");
    assert.doesNotThrow(() => parse({ ...valid(), somethingNew: { a: 1 } }));
  });

  test("a body that is not an object → INVALID_DECRYPTED_REQUEST", () => {
    for (const body of [null, [], "x", 3]) {
      assert.throws(() => checkRequestHeader(body, NOW), { code: "INVALID_DECRYPTED_REQUEST" });
    }
  });

  test("parseMicros bounds", () => {
    assert.equal(parseMicros("0"), 0n);
    assert.equal(parseMicros("9223372036854775807"), 9_223_372_036_854_775_807n);
    assert.equal(parseMicros("9223372036854775808"), undefined);
    assert.equal(parseMicros("-5"), undefined);
  });
});
