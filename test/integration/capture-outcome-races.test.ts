import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BatchGetItemCommand,
  DynamoDBClient,
  type TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { LOCAL_AWS } from "../../infra/local/local-aws.ts";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { type OutcomeError, recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { asynchronousCapture, asynchronousCaptureRequest, PIAID, requestId } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

const stack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const AMOUNT = 3_000_000n;

async function acknowledged() {
  const id = requestId("race");
  const reply = await asynchronousCapture(
    stack.url,
    asynchronousCaptureRequest({ amount: String(AMOUNT) }, id),
  );
  assert.equal(reply.body.result, "ACKNOWLEDGED");
  const record = await stack.deps.capture.store.get(`${PIAID}#${id}`);
  return { id, deadlineMs: record!.deadlineMs! };
}

/** The real client, with `before` run ahead of the first command of the kind given: latency where races live. */
function clientWithPause(
  kind: typeof BatchGetItemCommand | typeof TransactWriteItemsCommand | typeof UpdateItemCommand,
  before: () => Promise<void> | void,
) {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.endpoints.dynamodb });
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  let fired = false;
  client.send = (async (command: unknown) => {
    if (command instanceof kind && !fired) {
      fired = true;
      await before();
    }
    return send(command);
  }) as typeof client.send;
  return new DynamoCaptureStore(client, stack.config.tables);
}

const approve = (id: string) => ({
  paymentIntegratorAccountId: PIAID,
  captureRequestId: id,
  outcome: "APPROVED",
});

describe("the outcome route under unlucky timing", () => {
  test("an approval whose ledger read outlasts the deadline is not committed: the capture expires", async () => {
    const { id, deadlineMs } = await acknowledged();
    const before = await balance(stack, "acct-demo-main");
    let clock = deadlineMs - 5_000;
    // The ledger read (BatchGetItem) takes the clock past the deadline.
    const store = clientWithPause(BatchGetItemCommand, () => {
      clock = deadlineMs + 1_000;
    });
    await assert.rejects(
      recordCaptureOutcome({ ...stack.deps.outcome, store, now: () => clock }, approve(id)),
      (e: OutcomeError) => e.code === "CAPTURE_EXPIRED" && e.status === 409,
    );
    const record = await stack.deps.capture.store.get(`${PIAID}#${id}`);
    assert.deepEqual(record!.outcome, { kind: "EXPIRED" });
    assert.equal(record!.notification!.captureResult.captureResultCode, "CAPTURE_REQUEST_EXPIRED");
    assert.equal(await balance(stack, "acct-demo-main"), before, "no money moved after the deadline");
  });

  test("an expiry that lost to an approval answers the approval that committed, not CAPTURE_EXPIRED", async () => {
    const { id, deadlineMs } = await acknowledged();
    const before = await balance(stack, "acct-demo-main");
    // Just ahead of this caller's expiry write (an outcome that moves no money is one conditional UpdateItem), another caller (its clock still before the deadline) approves.
    const store = clientWithPause(UpdateItemCommand, async () => {
      const other = await recordCaptureOutcome(
        { ...stack.deps.outcome, now: () => deadlineMs - 2_000 },
        approve(id),
      );
      assert.equal(other.repeated, false);
    });
    const late = await recordCaptureOutcome(
      { ...stack.deps.outcome, store, now: () => deadlineMs + 1_000 },
      approve(id),
    );
    assert.equal(late.repeated, true, "answered from the record that committed");
    assert.deepEqual(late.record.outcome, { kind: "APPROVED" });
    assert.equal(late.record.notification!.captureResult.captureResultCode, "SUCCESS");
    assert.equal(await balance(stack, "acct-demo-main"), before - AMOUNT, "debited once, by the approval");

    // A different outcome from the late caller is refused as already decided, not as expired.
    const failed = {
      ...approve(id),
      outcome: "FAILED",
      captureResultCode: "INVALID_PIN",
      rawResult: { rawCode: "U16" },
    };
    const { id: id2, deadlineMs: d2 } = await acknowledged();
    const store2 = clientWithPause(UpdateItemCommand, async () => {
      await recordCaptureOutcome({ ...stack.deps.outcome, now: () => d2 - 2_000 }, approve(id2));
    });
    await assert.rejects(
      recordCaptureOutcome(
        { ...stack.deps.outcome, store: store2, now: () => d2 + 1_000 },
        { ...failed, captureRequestId: id2 },
      ),
      (e: OutcomeError) => e.code === "ALREADY_DECIDED",
    );
  });
});
