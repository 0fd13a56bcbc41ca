import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { callIntegrator } from "../../infra/google/client.ts";
import { startStandInGoogle } from "../../infra/local/google-stand-in.ts";
import { LOCAL_AWS } from "../../infra/local/local-aws.ts";
import { DEMO_LEDGER } from "../../infra/local/stack.ts";
import { tableName, tables } from "../../infra/resources.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import {
  asynchronousCaptureRequest,
  captureRequest,
  googleKeyring,
  PIAID,
  refundRequest,
  reportOutcome,
  requestId,
  testKeysDir,
  until,
} from "../support/google.ts";
import { balance, captureRecords, refundRecords } from "../support/ledger.ts";
import { captureChildOutput, capturedLogs } from "../support/log-capture.ts";
import { leaks } from "../support/secrets.ts";

/**
 * The service process is SIGKILLed at random moments during a stream of captures, outcomes and refunds
 * and restarted, as Lambda containers die; DynamoDB, SQS and Google outlive it (the suite's emulators and
 * a stand-in Google in this process). The callers retry everything until they get an answer, as Google
 * does: the same requestId, a new requestTimestamp.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const dynamodbEndpoint = process.env.TEST_DYNAMODB_ENDPOINT;
const sqsEndpoint = process.env.TEST_SQS_ENDPOINT;
const keysDir = await testKeysDir();
const keyring = await googleKeyring();
const prefix = `crash${randomBytes(3).toString("hex")}-`;
const outcomeToken = randomBytes(12).toString("hex");
const google = await startStandInGoogle({ keyring: async () => keyring, piaids: [PIAID] });
after(() => google.stop());

class Service {
  url = "";
  starts = 0;
  #child: ChildProcess | undefined;
  async start() {
    const child = spawn(process.execPath, ["infra/local/start.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PORT: "0",
        DYNAMODB_ENDPOINT: dynamodbEndpoint,
        SQS_ENDPOINT: sqsEndpoint,
        TABLE_PREFIX: prefix,
        // The ledger is loaded once; a restart must find it as the crash left it.
        LEDGER_SEED: this.starts === 0 ? DEMO_LEDGER : "none",
        KEYS_DIR: keysDir,
        GOOGLE_BASE_URL: google.url,
        OUTCOME_API_TOKEN: outcomeToken,
        SWEEP_INTERVAL_MS: "300",
        ENQUEUE_GRACE_SECONDS: "1",
        NOTIFY_BACKOFF_BASE_SECONDS: "0",
        LOCAL_STACK_FILE: join(mkdtempSync(join(tmpdir(), "gsp-crash-")), "stack.json"),
      },
    });
    this.#child = child;
    this.starts += 1;
    this.url = await new Promise<string>((resolveUrl, reject) => {
      let out = "";
      let err = "";
      child.stderr!.on("data", (d: Buffer) => {
        err = (err + d).slice(-2000);
      });
      child.stdout!.on("data", (d: Buffer) => {
        out += d;
        captureChildOutput(import.meta.filename, d.toString());
        const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolveUrl(m[1]!);
      });
      child.once("exit", (code) =>
        reject(new Error(`service exited (${code}) before ready: ${out.slice(-500)} ${err}`)),
      );
    });
  }
  async kill() {
    const child = this.#child!;
    this.url = "";
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  async stop() {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((r) => this.#child!.once("exit", r));
      this.#child.kill("SIGTERM");
      await exited;
    }
  }
}

const service = new Service();
await service.start();
after(() => service.stop());

/** A retry's body: the same request with a new requestTimestamp. */
const restamped = (body: Record<string, unknown>) => ({
  ...body,
  requestHeader: { ...(body.requestHeader as object), requestTimestamp: String(Date.now()) },
});

/** Retries a call until it gets an answer that is not a transport failure or a 5xx, as Google does. */
async function untilAnswered<T extends { status: number }>(call: (url: string) => Promise<T>): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const url = service.url;
    if (url) {
      const answer = await call(url).catch(() => undefined);
      if (answer && answer.status < 500) return answer;
    }
    if (Date.now() > deadline) throw new Error("no answer in 90 s");
    await new Promise((r) => setTimeout(r, 30)); // the caller's retry pause
  }
}

const outcomeCall = (captureRequestId: string, body: Record<string, unknown>) => (url: string) =>
  reportOutcome({ url, outcomeToken }, { captureRequestId, ...body });

/** Refunds one capture in parts, one after the other, each retried until answered; returns what each part got. */
async function refundInParts(captureRequestId: string, parts: bigint[]) {
  const answers: { requestId: string; amount: bigint; status: number; result: string }[] = [];
  for (const amount of parts) {
    const id = requestId("crash-refund");
    const body = refundRequest(captureRequestId, String(amount), {}, id);
    const answer = await untilAnswered((url) =>
      callIntegrator(url, "/v1/refund", restamped(body), { keyring }),
    );
    const result = String(answer.body.result ?? answer.body.errorResponseCode);
    answers.push({ requestId: id, amount, status: answer.status, result });
  }
  return answers;
}

/** What a refund in parts must get, one part after the other: SUCCESS while it fits in what remains. */
function expectedParts(captured: bigint, parts: bigint[]) {
  let remaining = captured;
  return parts.map((amount) => {
    if (amount > remaining) return { status: 400, result: "PRECONDITION_VIOLATION" };
    remaining -= amount;
    return { status: 200, result: "SUCCESS" };
  });
}

test("SIGKILL at random moments: the ledger equals the SUCCESS captures and refunds, nothing twice, every outcome and refund notified with one value", async () => {
  const db = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamodbEndpoint });
  after(() => db.destroy());
  const ledger = {
    dynamodb: db,
    config: { tables: { ledger: tableName(prefix, tables.ledger) } },
  } as Parameters<typeof balance>[0];
  const before = await balance(ledger, "acct-demo-main");

  const syncAnswers = new Map<string, { amount: bigint; result: string }>();
  const asyncAnswers = new Map<string, { amount: bigint; captureResult: Record<string, unknown> }>();
  /** Per capture refunded: what it took, and what each of its refunds got, in order. */
  const refunded = new Map<
    string,
    { captured: bigint; parts: bigint[]; answers: Awaited<ReturnType<typeof refundInParts>> }
  >();
  const work: (() => Promise<void>)[] = [];
  for (let i = 0; i < 60; i++) {
    const id = requestId("crash-sync");
    const amount = BigInt(1 + Math.floor(Math.random() * 5)) * 1_000_000n;
    // Some declines too: under the minimum, never debited.
    const body = captureRequest({ amount: String(i % 10 === 0 ? 500_000n : amount) }, id);
    // Half the captures are refunded in parts (some parts one micro too many), the declines tried too.
    const half = amount / 2n;
    const parts =
      i % 10 === 0
        ? [500_000n]
        : i % 4 === 1
          ? [half, amount - half + 1n, amount - half]
          : i % 4 === 3
            ? [half, amount - half]
            : [];
    work.push(async () => {
      const answer = await untilAnswered((url) =>
        callIntegrator(url, "/v1/capture", restamped(body), { keyring }),
      );
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const result = String(answer.body.result);
      syncAnswers.set(id, { amount: BigInt(body.amount as string), result });
      if (parts.length === 0) return;
      const captured = result === "SUCCESS" ? BigInt(body.amount as string) : 0n;
      refunded.set(id, { captured, parts, answers: await refundInParts(id, parts) });
    });
  }
  for (let i = 0; i < 30; i++) {
    const id = requestId("crash-async");
    const amount = BigInt(1 + Math.floor(Math.random() * 5)) * 1_000_000n;
    const outcome =
      i % 3 === 0
        ? { outcome: "FAILED", captureResultCode: "INVALID_PIN", rawResult: { rawCode: "U16" } }
        : { outcome: "APPROVED" };
    work.push(async () => {
      const ack = await untilAnswered((url) =>
        callIntegrator(
          url,
          "/v1/asynchronousCapture",
          restamped(asynchronousCaptureRequest({ amount: String(amount) }, id)),
          { keyring },
        ),
      );
      assert.equal(ack.body.result, "ACKNOWLEDGED", JSON.stringify(ack.body));
      const recorded = await untilAnswered(outcomeCall(id, outcome));
      assert.equal(recorded.status, 200, JSON.stringify(recorded.body));
      const captureResult = recorded.body.captureResult as Record<string, unknown>;
      asyncAnswers.set(id, { amount, captureResult });
      if (i % 2 === 1) return;
      // Refunded whole, then one micro more; a failed one has nothing to give back.
      const captured = captureResult.captureResultCode === "SUCCESS" ? amount : 0n;
      const parts = [amount, 1n];
      refunded.set(id, { captured, parts, answers: await refundInParts(id, parts) });
    });
  }
  work.sort(() => Math.random() - 0.5);

  let kills = 0;
  let remaining = work.length;
  const workers = Array.from({ length: 4 }, async () => {
    for (let job = work.pop(); job; job = work.pop()) {
      await job();
      remaining -= 1;
    }
  });
  const killer = (async () => {
    while (remaining > 0 && kills < 6) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 900)); // a random moment
      if (remaining === 0) break;
      await service.kill();
      kills += 1;
      await service.start();
    }
  })();
  await Promise.all([...workers, killer]);
  assert.ok(kills >= 2, `only ${kills} kills happened during the stream`);

  const successes = [...syncAnswers.values()].filter((a) => a.result === "SUCCESS");
  const asyncSuccesses = [...asyncAnswers.values()].filter(
    (a) => a.captureResult.captureResultCode === "SUCCESS",
  );
  const debited = [...successes, ...asyncSuccesses].reduce((sum, a) => sum + a.amount, 0n);

  // Each refund got the answer its turn implies: SUCCESS while it fit in what remained, else refused.
  for (const [id, r] of refunded) {
    assert.deepEqual(
      r.answers.map(({ status, result }) => ({ status, result })),
      expectedParts(r.captured, r.parts),
      `the refunds of capture ${id} (${r.captured} taken)`,
    );
  }
  const refundSuccesses = [...refunded.entries()].flatMap(([captureRequestId, r]) =>
    r.answers.filter((a) => a.result === "SUCCESS").map((a) => ({ captureRequestId, ...a })),
  );
  const credited = refundSuccesses.reduce((sum, a) => sum + a.amount, 0n);
  assert.ok(refundSuccesses.length > 20, `${refundSuccesses.length} refunds succeeded`);
  assert.equal(
    (await balance(ledger, "acct-demo-main")) - before,
    credited - debited,
    "the ledger equals the start − the SUCCESS captures + the SUCCESS refunds",
  );

  // Nothing refunded twice: one record per refund answered SUCCESS, none for a refused one.
  const records = await refundRecords(db, tableName(prefix, tables.refunds));
  assert.deepEqual(
    records.map((r) => `${r.requestId} ${r.captureRequestId} ${r.amount} ${r.response.result}`).sort(),
    refundSuccesses.map((a) => `${a.requestId} ${a.captureRequestId} ${a.amount} SUCCESS`).sort(),
  );
  assert.equal(new Set(records.map((r) => r.paymentIntegratorRefundId)).size, records.length);
  // Every capture's refunded total is the sum of its SUCCESS refunds, never above what it took.
  const refundedTotals = new Map(
    (await captureRecords(db, tableName(prefix, tables.captures))).map((item) => [
      item.pk!.S!,
      BigInt(item.refundedAmount?.N ?? "0"),
    ]),
  );
  for (const [id, r] of refunded) {
    const total = refundedTotals.get(idempotencyKey(PIAID, id));
    const expected = refundSuccesses
      .filter((a) => a.captureRequestId === id)
      .reduce((sum, a) => sum + a.amount, 0n);
    assert.equal(total, expected, `capture ${id}: refunded total = Σ of its SUCCESS refunds`);
    assert.ok(expected <= r.captured, `capture ${id}: refunded ${expected} of ${r.captured}`);
  }

  // Every outcome reaches Google; a notification may arrive twice, but always with one value.
  await until(
    "every outcome notified",
    () =>
      [...asyncAnswers.keys()].every((id) => google.received.some((r) => r.request.captureRequestId === id)),
    120_000,
  );
  for (const [id, answer] of asyncAnswers) {
    const deliveries = google.received.filter((r) => r.request.captureRequestId === id);
    const values = new Set(
      deliveries.map((d) => JSON.stringify([d.request.requestHeader.requestId, d.request.captureResult])),
    );
    assert.equal(values.size, 1, `capture ${id} was notified with ${values.size} different values`);
    assert.deepEqual(deliveries[0]!.request.captureResult, answer.captureResult);
  }
  // Every refund made reaches Google too (the sweeper finds one whose process died before enqueuing it).
  await until(
    "every refund notified",
    () =>
      records.every((r) => google.refundNotifications.some((n) => n.request.refundRequestId === r.requestId)),
    120_000,
  );
  for (const record of records) {
    const deliveries = google.refundNotifications.filter(
      (n) => n.request.refundRequestId === record.requestId,
    );
    const values = new Set(
      deliveries.map((d) =>
        JSON.stringify(d.request, [
          "requestHeader",
          "requestId",
          "refundResult",
          "paymentIntegratorRefundId",
        ]),
      ),
    );
    assert.equal(
      values.size,
      1,
      `refund ${record.requestId} was notified with ${values.size} different values`,
    );
    assert.deepEqual(
      [deliveries[0]!.request.refundResult, deliveries[0]!.request.paymentIntegratorRefundId],
      ["SUCCESS", record.paymentIntegratorRefundId],
    );
  }
  assert.ok(
    google.refundNotifications.every((n) => records.some((r) => r.requestId === n.request.refundRequestId)),
    "no refused refund was notified",
  );
  assert.deepEqual(leaks(capturedLogs), []);
});
