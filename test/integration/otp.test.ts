import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { DynamoDBClient, GetItemCommand, TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { LOCAL_AWS } from "../../infra/local/local-aws.ts";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { itemToOtp, key, ledgerKeys } from "../../shared/adapters/dynamodb/items.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { MAX_OTP_ATTEMPTS } from "../../shared/domain/capture-decision.ts";
import { type CaptureDeps, capture } from "../../shared/domain/capture-service.ts";
import { otpDigest } from "../../shared/domain/secrets.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { captureRequest, requestId } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

const stack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const deps = stack.deps.capture;
const pepper = await deps.otpPepper!();
const ACCOUNT = "acct-otp-test";
const TOKEN = "gpt-otp-test-token";
const RIGHT = "314159";

/** A fresh OTP of its own for each test (optionally expired), loaded as a fixture is. */
async function issued(expiresAt?: string): Promise<string> {
  const sendOtpRequestId = requestId("otp");
  const fixture = {
    accounts: [{ accountId: ACCOUNT, status: "ACTIVE", currencies: { INR: { balance: "100000000000" } } }],
    tokens: [{ googlePaymentToken: TOKEN, accountId: ACCOUNT, status: "ACTIVE" }],
    otps: [{ sendOtpRequestId, accountId: ACCOUNT, otp: RIGHT, ...(expiresAt && { expiresAt }) }],
  };
  await loadLedger(stack.dynamodb, stack.config.tables.ledger, parseLedgerFixture(fixture, pepper));
  return sendOtpRequestId;
}
const stored = async (sendOtpRequestId: string) => {
  const out = await stack.dynamodb.send(
    new GetItemCommand({
      TableName: stack.config.tables.ledger,
      Key: key(ledgerKeys.otp(sendOtpRequestId)),
      ConsistentRead: true,
    }),
  );
  return itemToOtp(out.Item!);
};
const tryOtp = async (sendOtpRequestId: string, otp: string, with_: CaptureDeps = deps) => {
  const { response } = await capture(
    with_,
    captureRequest({
      googlePaymentToken: TOKEN,
      amount: "1000000",
      otpVerification: { sendOtpRequestId, otp },
    }),
  );
  return [response.result, response.rawResult?.rawCode ?? "APPROVED"];
};

describe("OTPs", () => {
  test("stored as an HMAC under the pepper, bound to its sendOtpRequestId; never a bare SHA-256", async () => {
    const id = await issued();
    const otp = await stored(id);
    assert.equal(otp.otpDigest, otpDigest(pepper, id, RIGHT));
    assert.notEqual(otp.otpDigest, createHash("sha256").update(RIGHT).digest("base64url"));
    assert.notEqual(otpDigest(pepper, id, RIGHT), otpDigest(pepper, `${id}x`, RIGHT));
    assert.equal(otp.attempts, 0);
    assert.ok(otp.expiresAtMs! > Date.now(), "a fixture's OTP expires (a day after loading)");
  });

  test(`${MAX_OTP_ATTEMPTS} wrong tries exhaust an OTP: then even the right one is not matched, and no money moves`, async () => {
    const id = await issued();
    const before = await balance(stack, ACCOUNT);
    for (let i = 1; i <= MAX_OTP_ATTEMPTS; i++) {
      assert.deepEqual(await tryOtp(id, String(100000 + i)), ["OTP_NOT_MATCHED", "OTP_MISMATCH"]);
      assert.equal((await stored(id)).attempts, i);
    }
    assert.deepEqual(await tryOtp(id, RIGHT), ["OTP_NOT_MATCHED", "OTP_ATTEMPTS_EXHAUSTED"]);
    assert.deepEqual(await stored(id).then((o) => [o.attempts, o.used]), [MAX_OTP_ATTEMPTS, false]);
    assert.equal(await balance(stack, ACCOUNT), before);
  });

  // Bounded: if fewer than `racers` writes ever arrive, the gate never opens; fail then, don't hang the suite.
  test("concurrent wrong tries are counted atomically: no more than the maximum get an answer that compared", {
    timeout: 60_000,
  }, async () => {
    const id = await issued();
    const racers = 8;
    // Every try reads the OTP (0 attempts) before any of them writes: the tries race to count.
    let arrived = 0;
    let release: () => void;
    const allRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.endpoints.dynamodb });
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    client.send = (async (command: unknown) => {
      if (command instanceof TransactWriteItemsCommand && arrived < racers) {
        if (++arrived === racers) release();
        await allRead;
      }
      return send(command);
    }) as typeof client.send;
    const racing = { ...deps, store: new DynamoCaptureStore(client, stack.config.tables) };
    const answers = await Promise.all(
      Array.from({ length: racers }, (_, i) => tryOtp(id, String(200000 + i), racing)),
    ).finally(() => client.destroy());
    const count = (rawCode: string) => answers.filter(([, c]) => c === rawCode).length;
    assert.equal(count("OTP_MISMATCH"), MAX_OTP_ATTEMPTS);
    assert.equal(count("OTP_ATTEMPTS_EXHAUSTED"), racers - MAX_OTP_ATTEMPTS);
    assert.equal((await stored(id)).attempts, MAX_OTP_ATTEMPTS);
  });

  test("an expired OTP is not matched, the right one included", async () => {
    const id = await issued(new Date(Date.now() - 1000).toISOString());
    assert.deepEqual(await tryOtp(id, RIGHT), ["OTP_NOT_MATCHED", "OTP_EXPIRED"]);
    assert.equal((await stored(id)).used, false);
  });

  test("the right OTP within its tries is spent once: SUCCESS, then OTP_ALREADY_USED", async () => {
    const id = await issued();
    assert.deepEqual(await tryOtp(id, "000000"), ["OTP_NOT_MATCHED", "OTP_MISMATCH"]);
    assert.deepEqual(await tryOtp(id, RIGHT), ["SUCCESS", "APPROVED"]);
    assert.deepEqual(await tryOtp(id, RIGHT), ["OTP_ALREADY_USED", "OTP_USED"]);
    assert.deepEqual(await stored(id).then((o) => [o.attempts, o.used]), [1, true]);
  });
});
