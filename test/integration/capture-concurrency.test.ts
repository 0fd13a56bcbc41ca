import assert from "node:assert/strict";
import { test } from "node:test";
import type { LocalStack } from "../../infra/local/stack.ts";
import { capture, captureRequest, requestId, withoutHeader } from "../support/google.ts";
import { balance, captureRecords } from "../support/ledger.ts";
import { parsedLogs } from "../support/log-capture.ts";
import { startTestStack } from "../support/stack.ts";

const stack: LocalStack = await startTestStack(import.meta.filename);

test("20 keys × 16 concurrent copies through the gateway: exactly 20 debits, identical answers per key", async () => {
  const KEYS = 20;
  const COPIES = 16;
  const amount = 1_000_000n;
  const before = await balance(stack, "acct-demo-main");
  const ids = Array.from({ length: KEYS }, () => requestId("race"));
  const replies = await Promise.all(
    ids.flatMap((id) =>
      Array.from({ length: COPIES }, async () => ({
        id,
        reply: await capture(stack.url, captureRequest({ amount: String(amount) }, id)),
      })),
    ),
  );
  for (const id of ids) {
    const mine = replies.filter((r) => r.id === id).map((r) => r.reply);
    assert.deepEqual(
      mine.map((r) => r.status),
      Array(COPIES).fill(200),
    );
    const bodies = mine.map((r) => withoutHeader(r.body));
    assert.equal(bodies[0]?.result, "SUCCESS");
    for (const body of bodies) assert.deepEqual(body, bodies[0], `copies of ${id} differ`);
  }
  assert.equal(
    before - (await balance(stack, "acct-demo-main")),
    amount * BigInt(KEYS),
    "exactly one debit per key",
  );
  const records = (await captureRecords(stack.dynamodb, stack.config.tables.captures)).filter((r) =>
    ids.includes(r.requestId?.S ?? ""),
  );
  assert.equal(records.length, KEYS);
  const transactionIds = new Set(replies.map((r) => r.reply.body.paymentIntegratorTransactionId));
  assert.equal(transactionIds.size, KEYS);
  // The race really happened: some copies lost the conditional write and were answered from the winner's record.
  const lost = parsedLogs().filter((l) => ids.includes(String(l.requestId)) && l.lostRace === true).length;
  assert.ok(lost > 0, "no copy ever lost the conditional write: the test did not exercise the race");
});
