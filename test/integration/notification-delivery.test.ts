import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { createNotifierHandler } from "../../functions/notifier/handler.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { recordCaptureOutcome } from "../../shared/domain/capture-outcome-service.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  PIAID,
  reportOutcome,
  requestId,
  until,
} from "../support/google.ts";
import { parsedLogs } from "../support/log-capture.ts";
import { startTestStack } from "../support/stack.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
/** Retries at once (backoff base 0 s) so a test sees a whole retry schedule, and a short HTTP timeout. */
const stack: LocalStack = await startTestStack(import.meta.filename, {
  sweepIntervalMs: 0,
  notify: { backoffBaseSeconds: 0, timeoutMs: 400 },
  googleSlowMs: 1500,
});
const google = stack.google!;
const stackFile = join(mkdtempSync(join(tmpdir(), "gsp-ops-")), "stack.json");
writeFileSync(
  stackFile,
  JSON.stringify({ endpoints: stack.endpoints, tables: stack.config.tables, queues: stack.queues }),
);
const ops = (...args: string[]) =>
  run(process.execPath, ["infra/ops/cli.ts", ...args, "--stack-file", stackFile], { cwd: ROOT });

const dlqDepth = async () => {
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.queues.notifications!.deadLetterUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
};
const attemptsFor = (id: string) => google.attempts.filter((a) => a.request.captureRequestId === id);
const deliveredFor = (id: string) => google.received.filter((a) => a.request.captureRequestId === id);
const record = (id: string) => stack.deps.capture.store.get(`${PIAID}#${id}`);
/**
 * The stand-in counts a delivery when it answers; the notifier records NOTIFIED only after it has
 * opened and verified that answer. A test that reads the record waits for the record itself.
 */
const notified = async (id: string) => (await record(id))?.notification?.state === "NOTIFIED";

async function approved(amount = "1000000") {
  const id = requestId("notify");
  const ack = await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount }, id));
  assert.equal(ack.body.result, "ACKNOWLEDGED");
  assert.equal((await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" })).status, 200);
  return id;
}

/** Every try of one capture's notification carried the same requestId and the same result. */
function sameEveryTime(id: string) {
  const tries = attemptsFor(id);
  assert.ok(tries.length >= 1);
  assert.equal(
    new Set(tries.map((t) => t.request.requestHeader.requestId)).size,
    1,
    "one requestId for all tries",
  );
  assert.equal(
    new Set(tries.map((t) => JSON.stringify(t.request.captureResult))).size,
    1,
    "one result for all tries",
  );
  assert.equal(
    new Set(tries.map((t) => t.request.requestHeader.requestTimestamp)).size,
    tries.length,
    "a fresh timestamp per try",
  );
}

describe("delivery to Google", () => {
  test("Google failing for a window: every notification arrives after recovery, the same each try", async () => {
    google.fail("HTTP_500", 12);
    const ids = await Promise.all(Array.from({ length: 5 }, () => approved()));
    await until("all five delivered", () => ids.every((id) => deliveredFor(id).length === 1));
    await until("all five recorded as notified", async () =>
      (await Promise.all(ids.map(notified))).every(Boolean),
    );
    assert.equal(google.refused, 12);
    for (const id of ids) sameEveryTime(id);
    const failedTries = ids
      .flatMap((id) => attemptsFor(id))
      .filter((t) => t.failedWith === "HTTP_500").length;
    assert.equal(failedTries, 12);
    const r = await record(ids[0]!);
    assert.equal(r!.notification!.state, "NOTIFIED");
    assert.equal(r!.notification!.attempts.at(-1)!.outcome, "SUCCESS");
  });

  test("Google slower than our timeout: the try fails as a timeout and the next one delivers", async () => {
    google.fail("SLOW", 1);
    const id = await approved();
    await until("the success recorded", () => notified(id));
    const outcomes = (await record(id))!.notification!.attempts.map((a) => a.outcome);
    assert.deepEqual(outcomes, ["timeout after 400 ms", "SUCCESS"]);
    sameEveryTime(id);
  });

  test("404 with an empty body: a configuration error with its metric, retried on the schedule", async () => {
    google.fail("NOT_FOUND_EMPTY", 2);
    const id = await approved();
    await until("delivered after the configuration is fixed", () => deliveredFor(id).length === 1);
    const logs = parsedLogs();
    const configErrors = logs.filter(
      (l) => l.message === "notification refused: configuration error" && l.captureRequestId === id,
    );
    assert.equal(configErrors.length, 2);
    assert.equal(configErrors[0]!.level, "ERROR");
    const metric = logs.filter(
      (l) => (l as { GoogleVerificationFailed?: number }).GoogleVerificationFailed === 1,
    );
    assert.ok(metric.length >= 2, "a GoogleVerificationFailed EMF metric per refusal");
  });
});

describe("dead-letter queue and operators", () => {
  test("exhausted retries → DLQ → ops dlq list / replay (dry run first) → delivered, same requestId", async () => {
    google.fail("HTTP_500");
    const id = await approved();
    const other = await approved();
    await until("both in the DLQ after maxReceiveCount tries", async () => (await dlqDepth()) === 2);
    assert.equal(attemptsFor(id).length, 8, "maxReceiveCount tries, then the DLQ");
    const { stdout: list } = await ops("dlq", "list");
    const line = list.split("\n").find((l) => l.startsWith(id))!;
    assert.match(line, new RegExp(`^${id}\\t${PIAID}\\t\\d+s\\t8\\tHTTP 500$`));
    google.recover();

    const dry = await ops("dlq", "replay", "--capture-request-id", id, "--dry-run");
    assert.match(dry.stdout, new RegExp(`would replay ${id}\\n`));
    assert.match(dry.stdout, /dry run: 1 of 2 DLQ message\(s\) match; nothing moved/);
    assert.equal(deliveredFor(id).length, 0);

    const replay = await ops("dlq", "replay", "--capture-request-id", id);
    assert.match(replay.stdout, /replayed 1 message\(s\); 1 left in the DLQ/);
    await until("replayed notification delivered", () => deliveredFor(id).length === 1);
    assert.equal(deliveredFor(other).length, 0, "the filter left the other one alone");
    sameEveryTime(id);

    const rest = await ops("dlq", "replay", "--piaid", PIAID);
    assert.match(rest.stdout, /replayed 1 message\(s\); 0 left in the DLQ/);
    await until("the other delivered", () => deliveredFor(other).length === 1);
    assert.match((await ops("dlq", "list")).stdout, /0 message\(s\) in the DLQ/);
  });

  test("captures show prints state and delivery history; renotify sends the stored result again", async () => {
    const id = await approved();
    await until("delivered", () => deliveredFor(id).length === 1);
    await until("recorded as notified", () => notified(id));
    const { stdout } = await ops("captures", "show", PIAID, id);
    assert.match(stdout, /asynchronousCapture\n {2}state: DECIDED/);
    assert.match(stdout, /notification: requestId crn-[^,]+, NOTIFIED/);
    assert.match(stdout, /deliveries \(1\):\n {4}\S+ {2}SUCCESS/);
    const renotify = await ops("captures", "renotify", PIAID, id);
    assert.match(renotify.stdout, /enqueued the stored notification .* SUCCESS\)/);
    await until("delivered again", () => deliveredFor(id).length === 2);
    sameEveryTime(id);
    const missing = await ops("captures", "show", PIAID, "nope").catch(
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal((missing as { code: number }).code, 1);
    assert.match((missing as { stderr: string }).stderr, /no capture nope for InvisiCashIN_INR/);
  });

  test("every ops command has --help", async () => {
    const commands = [
      [],
      ["dlq", "list"],
      ["dlq", "replay"],
      ["captures", "show"],
      ["captures", "renotify"],
      ["ledger", "load"],
    ];
    const helps = await Promise.all(commands.map((command) => ops(...command, "--help")));
    for (const { stdout } of helps) assert.match(stdout, /^usage: npm run ops --/);
  });
});

describe("nothing recorded is lost", () => {
  test("a process that dies between recording the outcome and enqueuing it: the sweeper delivers it", async () => {
    const id = requestId("crash");
    await asynchronousCapture(stack.url, asynchronousCaptureRequest({}, id));
    // The outcome commits, then the process dies before the message reaches the queue.
    const dying = {
      ...stack.deps.outcome,
      queue: { enqueue: () => Promise.reject(new Error("process killed")) },
    };
    await recordCaptureOutcome(dying, {
      paymentIntegratorAccountId: PIAID,
      captureRequestId: id,
      outcome: "APPROVED",
    });
    assert.equal((await record(id))!.notification!.enqueued, false);
    assert.deepEqual(
      await stack.sweep(),
      { expired: 0, enqueued: 0 },
      "within the grace period the writer may still enqueue",
    );
    // Past the grace period (the sweeper's clock, 31 s on) the sweeper finds it through the index.
    const later = await sweep({ ...stack.deps.outcome, now: () => Date.now() + 31_000 });
    assert.equal(later.enqueued, 1);
    await until("the sweeper's notification delivered", () => deliveredFor(id).length === 1);
    assert.equal(deliveredFor(id)[0]!.request.captureResult.captureResultCode, "SUCCESS");
    assert.deepEqual(await sweep({ ...stack.deps.outcome, now: () => Date.now() + 31_000 }), {
      expired: 0,
      enqueued: 0,
    });
  });
});

describe("the retry schedule, from the record's delivery history", () => {
  test("throttled receives do not count as tries; the 8th failed try goes to the DLQ at once", async () => {
    const id = requestId("schedule");
    await asynchronousCapture(stack.url, asynchronousCaptureRequest({}, id));
    // An outcome whose message never reached the queue: this test alone hands it to the notifier.
    const held = { ...stack.deps.outcome, queue: { enqueue: () => Promise.reject(new Error("held back")) } };
    await recordCaptureOutcome(held, {
      paymentIntegratorAccountId: PIAID,
      captureRequestId: id,
      outcome: "APPROVED",
    });
    // The real SQS client, with every command it is given noted.
    const sent: object[] = [];
    const sqs = {
      send: (command: object) => {
        sent.push(command);
        return stack.sqs.send(command as SendMessageCommand);
      },
    } as unknown as SQSClient;
    const config = stack.deps.config;
    const notifier = createNotifierHandler(
      {
        ...stack.deps,
        config: {
          ...config,
          notify: { ...config.notify, backoffBaseSeconds: 10, backoffCapSeconds: 900, maxTries: 8 },
        },
      },
      sqs,
    );
    const sentAt = Date.now();
    // Each try arrives with a receive count 3 higher than the tries: receives throttled before reaching us.
    const event = (receiveCount: number): SQSEvent => ({
      Records: [
        {
          messageId: `m-${id}`,
          receiptHandle: `handle-${receiveCount}`,
          body: JSON.stringify({ paymentIntegratorAccountId: PIAID, captureRequestId: id }),
          attributes: {
            ApproximateReceiveCount: String(receiveCount),
            SentTimestamp: String(sentAt),
            SenderId: "test",
            ApproximateFirstReceiveTimestamp: String(sentAt),
          },
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:notifications",
          awsRegion: "us-east-1",
        },
      ],
    });
    google.fail("HTTP_500");
    try {
      for (let tries = 1; tries <= 7; tries++) {
        const result = await notifier(event(tries + 3));
        assert.deepEqual(result.batchItemFailures, [{ itemIdentifier: `m-${id}` }]);
        const delay = sent.pop() as ChangeMessageVisibilityCommand;
        assert.ok(delay instanceof ChangeMessageVisibilityCommand);
        const ceiling = 10 * 2 ** (tries - 1);
        const seconds = delay.input.VisibilityTimeout!;
        assert.ok(
          seconds >= ceiling / 2 && seconds <= ceiling,
          `try ${tries}: ${seconds} s in ${ceiling / 2}–${ceiling}`,
        );
      }
      assert.equal(sent.length, 0);
      const before = await dlqDepth();
      const last = await notifier(event(11));
      assert.deepEqual(last.batchItemFailures, [], "moved to the DLQ: done with it on this queue");
      assert.equal(sent.length, 1);
      const moved = sent[0] as SendMessageCommand;
      assert.ok(moved instanceof SendMessageCommand);
      assert.equal(moved.input.QueueUrl, stack.queues.notifications!.deadLetterUrl);
      assert.equal(await dlqDepth(), before + 1);
    } finally {
      google.recover();
    }
    assert.equal(attemptsFor(id).length, 8);
    assert.equal((await record(id))!.notification!.attempts.length, 8);
    // Leave the DLQ as the other tests expect it.
    const out = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues.notifications!.deadLetterUrl,
        MaxNumberOfMessages: 10,
      }),
    );
    const ours = (out.Messages ?? []).filter((m) => m.Body?.includes(id));
    assert.equal(ours.length, 1);
    await stack.sqs.send(
      new DeleteMessageCommand({
        QueueUrl: stack.queues.notifications!.deadLetterUrl,
        ReceiptHandle: ours[0]!.ReceiptHandle!,
      }),
    );
  });
});
