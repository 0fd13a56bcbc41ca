/**
 * Refund records for operators, in the shape of the capture commands: show one with its times and
 * its refundResultNotification, and send that notification again (same result, same requestId).
 */
import { DynamoRefundStore } from "../../shared/adapters/dynamodb/refund-store.ts";
import { sqsNotificationQueue } from "../../shared/adapters/sqs/notification-queue.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import { enqueueRefundNotification, type RefundRecord } from "../../shared/domain/refund-service.ts";
import { type Command, type Context, EXIT, iso, OpsError } from "./command.ts";

const storeOf = (ctx: Context) =>
  new DynamoRefundStore(ctx.target.db, ctx.target.tables, { enqueueGraceMs: 0 });

async function refundOf(
  ctx: Context,
): Promise<{ key: string; record: RefundRecord; store: DynamoRefundStore }> {
  const [piaid, refundRequestId] = ctx.args as [string, string];
  const key = idempotencyKey(piaid, refundRequestId);
  const store = storeOf(ctx);
  const record = await store.get(key);
  if (!record)
    throw new OpsError(`no refund ${refundRequestId} for ${piaid} in ${ctx.target.tables.refunds}`);
  return { key, record, store };
}

const refundJson = (r: RefundRecord) => ({ ...r, amount: r.amount.toString() });

const show: Command = {
  name: "refunds show",
  synopsis: "<PIAID> <refundRequestId>",
  summary: "one refund: the capture it refunds, its result, its refundResultNotification and every try",
  help: `Prints the refund record: the capture refunded, the amount and account credited (or the decline),
our paymentIntegratorRefundId, when it was made, and the refundResultNotification it owes with every try.`,
  args: ["PIAID", "refundRequestId"],
  async run(ctx) {
    const { record } = await refundOf(ctx);
    const n = record.notification;
    const notifiedAt = n?.attempts.find((a) => a.outcome === "SUCCESS")?.atMs;
    ctx.print(
      [
        `refund ${record.requestId} (${record.paymentIntegratorAccountId}) of capture ${record.captureRequestId}`,
        `  result: ${record.response.result}${record.response.rawResult ? ` ${JSON.stringify(record.response.rawResult)}` : ""}`,
        `  amount: ${record.amount} micros ${record.currencyCode}, account ${record.accountId}`,
        `  paymentIntegratorRefundId: ${record.paymentIntegratorRefundId}`,
        `  times: created ${iso(record.createdAtMs)}, notified ${iso(notifiedAt)}`,
        ...(n
          ? [
              `  notification: requestId ${n.requestId}, ${n.state}${n.enqueued ? "" : " (not enqueued yet)"}`,
              `  deliveries (${n.attempts.length}):`,
              ...n.attempts.map((a) => `    ${iso(a.atMs)}  ${a.outcome}`),
            ]
          : ["  notification: none owed (REFUND_NOTIFICATIONS off when it was made)"]),
      ].join("\n"),
    );
    ctx.result({ refund: refundJson(record) });
    return EXIT.OK;
  },
};

const renotify: Command = {
  name: "refunds renotify",
  synopsis: "<PIAID> <refundRequestId>",
  summary: "send the stored refundResultNotification again (same result, same requestId)",
  help: "Enqueues the stored refundResultNotification again, even if it was delivered before: the record owes it again until Google answers SUCCESS.",
  args: ["PIAID", "refundRequestId"],
  changes: true,
  async run(ctx) {
    const { key, record, store } = await refundOf(ctx);
    const n = record.notification;
    if (!n) throw new OpsError(`refund ${record.requestId} owes no notification`);
    await ctx.confirm(`send the refundResultNotification of refund ${record.requestId} again`);
    await store.reopenNotification(key);
    const queue = sqsNotificationQueue(ctx.target.sqs, ctx.target.queues.notifications);
    if (!(await enqueueRefundNotification({ queue, store }, record)))
      throw new OpsError(`the notifications queue refused the message of ${record.requestId}`);
    ctx.print(
      `enqueued the stored refundResultNotification of ${record.requestId} again (requestId ${n.requestId}, ${record.response.result})`,
    );
    ctx.result({
      enqueued: {
        paymentIntegratorAccountId: record.paymentIntegratorAccountId,
        refundRequestId: record.requestId,
        requestId: n.requestId,
      },
    });
    return EXIT.OK;
  },
};

export const refundCommands: Command<unknown>[] = [show, renotify];
