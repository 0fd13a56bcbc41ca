import assert from "node:assert/strict";
import { test } from "node:test";
import { contentionBackoffMs, pauseAfterContention } from "../../shared/domain/contention.ts";

test("the contention backoff lies under its exponential ceiling, capped at 250 ms", () => {
  for (const [attempt, ceiling] of [
    [1, 16],
    [3, 64],
    [5, 250],
    [40, 250],
  ] as const) {
    for (let i = 0; i < 200; i++) {
      const pause = contentionBackoffMs(attempt);
      assert.ok(pause >= 0 && pause < ceiling, `attempt ${attempt}: ${pause} ms`);
    }
  }
});

test("a pause that would end past the deadline throws, naming the record and the attempts", async () => {
  await assert.rejects(pauseAfterContention("refund P#r1", 3, 1_000, 999), {
    message: "refund P#r1 still contended after 3 attempts, out of time",
  });
});

test("a pause within the deadline waits and resolves", async () => {
  const now = Date.now();
  assert.equal(await pauseAfterContention("capture P#c1", 1, now, now + 1_000), undefined);
});
