import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalJson, requestFingerprint } from "../../shared/domain/idempotency.ts";
import { periodsAt } from "../../shared/domain/periods.ts";

const body = (timestamp: string, amount = "1") => ({
  requestHeader: {
    requestId: "r",
    requestTimestamp: timestamp,
    protocolVersion: { major: 1, minor: 0, revision: 0 },
  },
  amount,
  captureContext: {},
});

test("the fingerprint ignores requestTimestamp and key order, and nothing else", () => {
  assert.equal(requestFingerprint("capture", body("1")), requestFingerprint("capture", body("2")));
  const reordered = { captureContext: {}, amount: "1", requestHeader: body("9").requestHeader };
  assert.equal(requestFingerprint("capture", reordered), requestFingerprint("capture", body("1")));
  assert.notEqual(
    requestFingerprint("capture", body("1", "2")),
    requestFingerprint("capture", body("1", "1")),
  );
  assert.notEqual(
    requestFingerprint("capture", body("1")),
    requestFingerprint("asynchronousCapture", body("1")),
  );
});

test("canonical JSON sorts keys at every depth", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
  );
});

test("spend periods follow the ledger's time zone", () => {
  const t = Date.parse("2026-11-30T20:00:00Z");
  assert.deepEqual(periodsAt(t, "UTC"), { day: "2026-11-30", month: "2026-11" });
  assert.deepEqual(periodsAt(t, "Asia/Kolkata"), { day: "2026-12-01", month: "2026-12" });
});
