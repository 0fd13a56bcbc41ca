import { setTimeout as delay } from "node:timers/promises";

/** Contention backoff: full jitter over an exponential ceiling, capped. */
export const contentionBackoffMs = (attempt: number) => Math.random() * Math.min(250, 8 * 2 ** attempt);

/**
 * Waits before another read → decide → write round, after a write lost to a concurrent one on the
 * same key or account. When the pause would end past `deadlineMs` it throws instead: the caller
 * answers 500 and is retried with the same key (`what` names the record in that error).
 */
export async function pauseAfterContention(
  what: string,
  attempt: number,
  nowMs: number,
  deadlineMs: number,
): Promise<void> {
  const pause = contentionBackoffMs(attempt);
  if (nowMs + pause > deadlineMs) {
    throw new Error(`${what} still contended after ${attempt} attempts, out of time`);
  }
  await delay(pause);
}
