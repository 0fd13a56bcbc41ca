import type { NotificationMessage, NotificationQueue } from "./capture-record.ts";

/**
 * Puts a record's owed notification on the queue, then notes it enqueued. If this process dies in
 * between, or the queue refuses, the record keeps its sweep marker and the sweeper enqueues it later; a
 * second message for the same record only repeats the same notification (the notifier reads the record).
 * The same for every kind of record that owes Google a message (captures, refunds).
 */
export async function enqueueOwed(
  queue: NotificationQueue,
  store: { markEnqueued(recordKey: string): Promise<void> },
  recordKey: string,
  message: NotificationMessage,
): Promise<boolean> {
  try {
    await queue.enqueue(message);
  } catch {
    return false;
  }
  await store.markEnqueued(recordKey);
  return true;
}
