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
import {
  asynchronousCaptureRequest,
  captureRequest,
  googleKeyring,
  PIAID,
  requestId,
  testKeysDir,
  until,
} from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { captureChildOutput, capturedLogs } from "../support/log-capture.ts";
import { leaks } from "../support/secrets.ts";

/**
 * The service process is SIGKILLed at random moments during a stream of captures and outcomes and
 * restarted, as Lambda containers die; DynamoDB, SQS and Google outlive it (the suite's emulators and
 * a stand-in Google in this process). The callers retry everything until they get an answer.
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
      child.stdout!.on("data", (d: Buffer) => {
        out += d;
        captureChildOutput(import.meta.filename, d.toString());
        const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolveUrl(m[1]!);
      });
      child.once("exit", (code) =>
        reject(new Error(`service exited (${code}) before ready: ${out.slice(-500)}`)),
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

const outcomeCall = (captureRequestId: string, body: Record<string, unknown>) => async (url: string) => {
  const res = await fetch(`${url}/internal/v1/captureOutcome`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${outcomeToken}` },
    body: JSON.stringify({ paymentIntegratorAccountId: PIAID, captureRequestId, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test("SIGKILL at random moments: the ledger equals the SUCCESS answers, nothing twice, every outcome notified with one value", async () => {
  const db = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamodbEndpoint });
  after(() => db.destroy());
  const ledger = {
    dynamodb: db,
    config: { tables: { ledger: tableName(prefix, tables.ledger) } },
  } as Parameters<typeof balance>[0];
  const before = await balance(ledger, "acct-demo-main");

  const syncAnswers = new Map<string, { amount: bigint; result: string }>();
  const asyncAnswers = new Map<string, { amount: bigint; captureResult: Record<string, unknown> }>();
  const work: (() => Promise<void>)[] = [];
  for (let i = 0; i < 60; i++) {
    const id = requestId("crash-sync");
    const amount = BigInt(1 + Math.floor(Math.random() * 5)) * 1_000_000n;
    // Some declines too: under the minimum, never debited.
    const body = captureRequest({ amount: String(i % 10 === 0 ? 500_000n : amount) }, id);
    work.push(async () => {
      const answer = await untilAnswered((url) => callIntegrator(url, "/v1/capture", body, { keyring }));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      syncAnswers.set(id, { amount: BigInt(body.amount as string), result: String(answer.body.result) });
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
          asynchronousCaptureRequest({ amount: String(amount) }, id),
          { keyring },
        ),
      );
      assert.equal(ack.body.result, "ACKNOWLEDGED", JSON.stringify(ack.body));
      const recorded = await untilAnswered(outcomeCall(id, outcome));
      assert.equal(recorded.status, 200, JSON.stringify(recorded.body));
      asyncAnswers.set(id, { amount, captureResult: recorded.body.captureResult as Record<string, unknown> });
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
  assert.equal(
    before - (await balance(ledger, "acct-demo-main")),
    debited,
    "the ledger equals the sum of the SUCCESS answers",
  );

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
  assert.deepEqual(leaks(capturedLogs), []);
});
