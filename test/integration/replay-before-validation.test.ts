import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asynchronousCapture } from "../../shared/domain/asynchronous-capture-service.ts";
import type { CaptureRecord } from "../../shared/domain/capture-record.ts";
import { capture } from "../../shared/domain/capture-service.ts";
import { requestFingerprint, requestFingerprints } from "../../shared/domain/idempotency.ts";
import { ProtocolError } from "../../shared/protocol/errors.ts";
import {
  asynchronousCaptureRequest,
  captureRequest,
  PIAID,
  requestId,
  withoutHeader,
} from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

const stack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const deps = stack.deps.capture;
const refusal = (code: string) => (e: ProtocolError) => e instanceof ProtocolError && e.code === code;
/** A retry as Google sends it: the same body, a fresh requestTimestamp. */
const retry = (body: Record<string, unknown>, header: Record<string, unknown> = {}) => ({
  ...body,
  requestHeader: { ...(body.requestHeader as object), requestTimestamp: String(Date.now()), ...header },
});

/** A record as an earlier deploy wrote it, for a request given with the fingerprint it stored then. */
async function storedEarlier(
  body: Record<string, unknown>,
  fingerprint: string,
): Promise<CaptureRecord["response"]> {
  const id = (body.requestHeader as { requestId: string }).requestId;
  const response = { paymentIntegratorTransactionId: `tx-${id}`, result: "SUCCESS" };
  const written = await deps.store.write(
    {
      key: `${PIAID}#${id}`,
      paymentIntegratorAccountId: PIAID,
      requestId: id,
      method: "capture",
      fingerprint,
      paymentIntegratorTransactionId: response.paymentIntegratorTransactionId,
      response,
      state: "DECIDED",
      amount: BigInt(body.amount as string),
      currencyCode: "INR",
      transactionDescription: String(body.transactionDescription),
      accountId: "acct-demo-main",
      instrumentKind: "TOKEN",
      instrumentRef: "TOKEN#earlier",
      createdAtMs: Date.now() - 60_000,
    },
    undefined,
    undefined,
  );
  assert.equal(written.kind, "COMMITTED");
  return response;
}

describe("a retry finds its record before validation and configuration can refuse it", () => {
  test("the PIAID's currency changed, or it is no longer served: retries of a debited capture are replayed", async () => {
    const body = captureRequest({ amount: "2000000" });
    const first = await capture(deps, body);
    assert.equal(first.response.result, "SUCCESS");
    const after = await balance(stack, "acct-demo-main");

    const recurrencied = { ...deps, piaids: { [PIAID]: "USD" } };
    const again = await capture(recurrencied, retry(body));
    assert.equal(again.replayed, true);
    assert.deepEqual(withoutHeader(again.response), withoutHeader(first.response));
    const unserved = await capture({ ...deps, piaids: {} }, retry(body));
    assert.deepEqual(withoutHeader(unserved.response), withoutHeader(first.response));
    assert.equal(await balance(stack, "acct-demo-main"), after, "no second debit");

    // A new request under that configuration is still refused; so is another request with a used key.
    await assert.rejects(
      capture(recurrencied, captureRequest({ amount: "2000000" })),
      refusal("INVALID_FIELD_VALUE"),
    );
    await assert.rejects(
      capture({ ...deps, piaids: {} }, retry({ ...body, amount: "3000000" })),
      refusal("INVALID_IDENTIFIER"),
    );
  });

  test("a stored request that a stricter validator now refuses is still replayed; another one is refused", async () => {
    // Stored when userIpAddress had no length limit; today's validator allows 64 characters.
    const body = captureRequest({ captureContext: { userIpAddress: "2001:db8::1".padEnd(80, "0") } });
    await assert.rejects(
      capture(deps, captureRequest({ captureContext: body.captureContext })),
      refusal("INVALID_FIELD_VALUE"),
    );
    const stored = await storedEarlier(body, requestFingerprint("capture", body));
    const again = await capture(deps, retry(body));
    assert.equal(again.replayed, true);
    assert.deepEqual(withoutHeader(again.response), stored);
    await assert.rejects(capture(deps, retry({ ...body, amount: "1" })), refusal("INVALID_FIELD_VALUE"));
  });

  test("an asynchronousCapture acknowledged before its PIAID's currency changed is replayed too", async () => {
    const body = asynchronousCaptureRequest({ amount: "1000000" });
    const first = await asynchronousCapture(deps, body);
    assert.equal(first.response.result, "ACKNOWLEDGED");
    const again = await asynchronousCapture({ ...deps, piaids: { [PIAID]: "USD" } }, retry(body));
    assert.deepEqual(withoutHeader(again.response), withoutHeader(first.response));
  });
});

describe("the fingerprint", () => {
  test("null members are absent and the deprecated userLocale is left out", async () => {
    const body = captureRequest({ amount: "1500000", otpVerification: null, mandateDetails: null });
    const first = await capture(deps, retry(body, { userLocale: "en" }));
    assert.equal(first.response.result, "SUCCESS");
    const { otpVerification: _o, mandateDetails: _m, ...withoutNullMembers } = body;
    const again = await capture(deps, retry(withoutNullMembers, { userLocale: "hi-IN" }));
    assert.equal(again.replayed, true);
    assert.deepEqual(withoutHeader(again.response), withoutHeader(first.response));
    await assert.rejects(
      capture(deps, retry({ ...body, amount: "1500001" })),
      refusal("IDEMPOTENCY_VIOLATION"),
    );
  });

  test("a record stored with the earlier fingerprint (nulls and userLocale in it) still matches its retries", async () => {
    const body = retry(captureRequest({ amount: "1700000", authenticationRequestId: null }), {
      userLocale: "en",
    });
    const [current, legacy] = requestFingerprints("capture", body);
    assert.ok(legacy !== undefined && legacy !== current, "this request's fingerprint changed");
    const stored = await storedEarlier(body, legacy);
    const again = await capture(deps, retry(body));
    assert.equal(again.replayed, true);
    assert.deepEqual(withoutHeader(again.response), stored);
    // The same request but a different amount: still a violation of the key.
    await assert.rejects(
      capture(deps, retry({ ...body, amount: "1700001" })),
      refusal("IDEMPOTENCY_VIOLATION"),
    );
  });

  test("a fresh key's fingerprints are one, and differ by method", () => {
    const body = captureRequest({}, requestId("fp"));
    assert.deepEqual(requestFingerprints("capture", body), [requestFingerprint("capture", body)]);
    assert.notEqual(requestFingerprint("capture", body), requestFingerprint("asynchronousCapture", body));
  });
});
