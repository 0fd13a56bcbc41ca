import assert from "node:assert/strict";
import { test } from "node:test";
import { leaks } from "../support/secrets.ts";

test("the log audit finds the tokens and VPAs tests invent, not only the demo fixture's", () => {
  const clean =
    '{"level":"INFO","message":"request","method":"refund","result":"SUCCESS","accountId":"acct-refund-3"}';
  assert.deepEqual(leaks([clean]), []);
  const token = '{"level":"ERROR","message":"unexpected","error":"no instrument gpt-refund-3"}';
  const vpa = '{"level":"INFO","message":"request","payer":"settle-day@DemoBank"}';
  assert.deepEqual(
    leaks([token, vpa]).map((found) => found.split(" in: ")[0]),
    ["gpt-refund-3", "settle-day@DemoBank"],
  );
  // The demo fixture's own secrets are still found by value.
  assert.equal(leaks(['{"otp":"482913"}']).length, 1);
});
