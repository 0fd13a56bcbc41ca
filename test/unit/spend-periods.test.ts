import assert from "node:assert/strict";
import { test } from "node:test";
import { currentPeriods, NO_SPEND, spendIn } from "../../shared/domain/ledger.ts";
import { periodsAt } from "../../shared/domain/periods.ts";

const counters = { day: "2026-11-30", dayAmount: 7n, month: "2026-11", monthAmount: 20n, monthCount: 3 };

test("counters of the current day and month count as they are", () => {
  assert.deepEqual(spendIn(counters, { day: "2026-11-30", month: "2026-11" }), {
    day: 7n,
    month: 20n,
    monthCount: 3,
  });
  assert.deepEqual(currentPeriods(counters, { day: "2026-11-30", month: "2026-11" }), {
    day: "2026-11-30",
    month: "2026-11",
    sameDay: true,
    sameMonth: true,
  });
});

test("a new day starts from zero; a new month too, count included", () => {
  assert.deepEqual(spendIn(counters, { day: "2026-12-01", month: "2026-12" }), {
    day: 0n,
    month: 0n,
    monthCount: 0,
  });
  assert.deepEqual(spendIn(counters, { day: "2026-11-31", month: "2026-11" }), {
    day: 0n,
    month: 20n,
    monthCount: 3,
  });
});

test("a clock a moment behind another process's at midnight never rolls the counters back", () => {
  const behind = { day: "2026-11-29", month: "2026-11" };
  assert.deepEqual(spendIn(counters, behind), { day: 7n, month: 20n, monthCount: 3 });
  assert.equal(currentPeriods(counters, behind).day, "2026-11-30");
});

test("never-used counters are zero, in the current periods", () => {
  assert.deepEqual(spendIn(NO_SPEND, { day: "2026-11-30", month: "2026-11" }), {
    day: 0n,
    month: 0n,
    monthCount: 0,
  });
  assert.deepEqual(currentPeriods(NO_SPEND, { day: "2026-11-30", month: "2026-11" }).sameDay, false);
});

test("a capture near midnight belongs to the calendar day of the ledger's time zone", () => {
  const instant = Date.parse("2026-11-30T18:45:00Z"); // 00:15 on 1 December in Kolkata (+05:30)
  assert.deepEqual(periodsAt(instant, "UTC"), { day: "2026-11-30", month: "2026-11" });
  assert.deepEqual(periodsAt(instant, "Asia/Kolkata"), { day: "2026-12-01", month: "2026-12" });
});
