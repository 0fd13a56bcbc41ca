import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import {
  asynchronousCaptureBody,
  callIntegrator,
  newRequestId,
  standInGoogleKeyring,
} from "../../infra/google/client.ts";
import { startLocalStack } from "../../infra/local/stack.ts";
import { recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import { type BenchModule, benchOutcome, ms, num, PIAID, ratio, silentLogger, stats } from "./common.ts";

/**
 * captureResultNotification delivery: from the moment the outcome route answered (the outcome is
 * recorded and its message enqueued) to the moment the stand-in Google accepted the notification;
 * and the notifier's throughput when many outcomes are recorded at once. The floor, measured in
 * the same run: one SQS send → receive on the same emulator, plus the notification sent to the same
 * stand-in Google with the service's own client (sealed POST, answer opened and verified), then the delete.
 */
export const notificationsBench: BenchModule = {
  id: "notifications",
  title: "Notifications: outcome reported → Google received",
  async run(ctx) {
    const stack = await startLocalStack({
      port: 0,
      prefix: ctx.prefix("notifications"),
      dynamodbEndpoint: ctx.dynamodbEndpoint,
      sqsEndpoint: ctx.sqsEndpoint,
      keysDir: ctx.keysDir,
      ledgerSeed: ctx.benchLedger,
      sweepIntervalMs: 0,
      logger: silentLogger(),
    });
    try {
      const google = stack.google!;
      const keyring = await standInGoogleKeyring(ctx.keysDir);
      const tokens = ctx.benchTokens;
      let next = 0;
      const acknowledge = async () => {
        const id = newRequestId("nbench");
        const body = asynchronousCaptureBody({
          piaid: PIAID,
          amount: "1000000",
          currency: "INR",
          googlePaymentToken: tokens[next++ % tokens.length]!,
          requestId: id,
          description: "bench",
        });
        const ack = await callIntegrator(stack.url, "/v1/asynchronousCapture", body, { keyring });
        if (ack.body.result !== "ACKNOWLEDGED")
          throw new Error(`not acknowledged: ${JSON.stringify(ack.body)}`);
        return id;
      };
      /** Returns when the outcome was sent: the start of the end-to-end span. */
      const approve = async (id: string) => {
        const sent = Date.now();
        const res = await fetch(`${stack.url}/internal/v1/captureOutcome`, {
          method: "POST",
          headers: { authorization: `Bearer ${stack.outcomeToken}`, "content-type": "application/json" },
          body: JSON.stringify(benchOutcome(id)),
        });
        if (res.status !== 200) throw new Error(`outcome ${res.status}`);
        await res.arrayBuffer();
        return sent;
      };
      const receivedAt = async (id: string, deadline: number) => {
        for (;;) {
          const hit = google.received.find((r) => r.request.captureRequestId === id);
          if (hit) return hit.receivedAtMs;
          if (Date.now() > deadline) throw new Error(`notification ${id} not received`);
          await new Promise((r) => setTimeout(r, 1));
        }
      };

      // Latency, one at a time.
      const sequential = ctx.quick ? 15 : 60;
      const latencies: number[] = [];
      for (let i = 0; i < sequential + 3; i++) {
        const id = await acknowledge();
        const recorded = await approve(id);
        const latency = (await receivedAt(id, Date.now() + 30_000)) - recorded;
        if (i >= 3) latencies.push(latency); // the first three warm the notifier's path
      }

      // Throughput on a backlog: outcomes recorded while their messages could not be enqueued, then all
      // released at once by the sweeper (its clock past the enqueue grace), delivered as fast as the notifier goes.
      const burst = ctx.quick ? 40 : 200;
      const ids: string[] = [];
      for (let i = 0; i < burst; i++) ids.push(await acknowledge());
      const stalled = {
        ...stack.deps.outcome,
        queue: { enqueue: () => Promise.reject(new Error("held back")) },
      };
      for (const id of ids) {
        await recordCaptureOutcome(stalled, benchOutcome(id));
      }
      const released = Date.now();
      const swept = await sweep({ ...stack.deps.outcome, now: () => Date.now() + 60_000 });
      if (swept.enqueued !== burst) throw new Error(`the sweeper enqueued ${swept.enqueued} of ${burst}`);
      let last = 0;
      for (const id of ids) last = Math.max(last, await receivedAt(id, Date.now() + 120_000));
      const seconds = (last - released) / 1000;

      // The floor, to the same end point: an SQS send and receive on a queue of its own, then the notification
      // sent as the notifier sends it (the service's own client: sealed with our keys, POSTed) until the stand-in
      // Google has accepted it. The message is deleted after the POST, as the poller deletes after delivery.
      const floorQueue = (
        await stack.sqs.send(new CreateQueueCommand({ QueueName: `${ctx.prefix("notifications")}floor` }))
      ).QueueUrl!;
      const floor: number[] = [];
      for (let i = 0; i < sequential + 3; i++) {
        const captureRequestId = `floor-${Date.now()}-${i}`;
        const t0 = Date.now();
        await stack.sqs.send(new SendMessageCommand({ QueueUrl: floorQueue, MessageBody: captureRequestId }));
        const got = await stack.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: floorQueue, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
        );
        const sent = await stack.deps.notifier.google.send("captureResultNotification", PIAID, {
          requestHeader: {
            protocolVersion: { major: 1, minor: 0, revision: 0 },
            requestId: captureRequestId,
            requestTimestamp: String(Date.now()),
          },
          paymentIntegratorAccountId: PIAID,
          captureRequestId,
          captureResult: { captureResultCode: "SUCCESS" },
        });
        if (!sent.ok) throw new Error(`floor notification refused: ${sent.reason}`);
        await stack.sqs.send(
          new DeleteMessageCommand({ QueueUrl: floorQueue, ReceiptHandle: got.Messages![0]!.ReceiptHandle! }),
        );
        if (i >= 3) floor.push((await receivedAt(captureRequestId, Date.now() + 5000)) - t0);
      }
      const base = stats(floor);
      const lat = stats(latencies);
      const floorP50 = base.p50;
      return {
        tables: [
          {
            headers: ["measure", "n", "p50 ms", "p99 ms", "floor p50 ms", "p50 / floor"],
            rows: [
              [
                "outcome reported → Google received",
                lat.n,
                ms(lat.p50),
                ms(lat.p99),
                ms(floorP50),
                ratio(lat.p50 / floorP50),
              ],
              [
                "floor: SQS round trip + sealed POST → Google received",
                base.n,
                ms(base.p50),
                ms(base.p99),
                "",
                "",
              ],
            ],
          },
          {
            headers: ["backlog (notifications)", "released → last received s", "notifications/s"],
            rows: [[burst, num(seconds, 2), num(burst / seconds)]],
          },
        ],
        notes: [
          "Latency starts when the integrator's system sends the outcome (so it holds the outcome route: read, decide, the recording transaction with the debit, the enqueue) and ends when the stand-in Google accepted the notification (millisecond clock of this process). It cannot start at the outcome route's answer: the notifier is already at work by then.",
          "The notifier here is the local SQS poller (one batch of up to 10 at a time, tries in a batch in parallel), as Lambda's event source mapping with one concurrent invocation; Lambda scales pollers and invocations with the backlog, so cloud throughput is not bounded by this figure.",
          "Each delivery here costs about six RSA-3072 private-key operations on this process's CPU: ours (sign the request, decrypt the answer) and the stand-in Google's (decrypt, sign its answer), plus the envelope's verifications. In production Google's half runs on Google's machines.",
          "Throughput: a backlog of recorded outcomes (their enqueue held back), released at once by the sweeper; from release to the last notification accepted.",
          "Floor: what one delivery cannot avoid, to the same end point: an SQS send → receive on the same emulator, then the notification sent with the service's own notification client (sealed with our keys, POSTed) until the same stand-in Google accepted it; the message is deleted after that, as the poller deletes it after delivery. Milliseconds of this process's clock.",
        ],
        headlines: [
          `Notifications: outcome reported → Google received p50 ${ms(lat.p50)} ms (${ratio(lat.p50 / floorP50)} the SQS + one-POST floor); a backlog drains at ${num(burst / seconds)} notifications/s from one local poller.`,
        ],
        data: { latency: lat, floor: base, burst, seconds, throughput: burst / seconds },
      };
    } finally {
      await stack.stop();
    }
  },
};
