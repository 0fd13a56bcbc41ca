import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Emulator, startDynamoDbLocal, startSqsEmulator } from "../../infra/local/emulators.ts";
import { ensureLocalKeys } from "../../infra/local/keys.ts";
import { leaks } from "./secrets.ts";

/**
 * One DynamoDB Local and one fauxqs for the whole suite; each test file provisions its own tables
 * and queues under a unique prefix. The teardown audits every log line the suite produced.
 */
const LOG_DIR = resolve(import.meta.dirname, "../../.local/test-logs");
/** Test keys: RSA 2048 (the protocol's minimum) to keep generation quick; made once, reused. */
const KEYS_DIR = resolve(import.meta.dirname, "../../.local/test-keys");
let emulators: Emulator[] = [];

export async function globalSetup() {
  rmSync(LOG_DIR, { recursive: true, force: true });
  const [dynamodb, sqs] = await Promise.all([
    startDynamoDbLocal(),
    startSqsEmulator(),
    ensureLocalKeys(KEYS_DIR, 2048),
  ]);
  emulators = [dynamodb, sqs];
  process.env.TEST_DYNAMODB_ENDPOINT = dynamodb.endpoint;
  process.env.TEST_SQS_ENDPOINT = sqs.endpoint;
  process.env.TEST_LOG_DIR = LOG_DIR;
  process.env.TEST_KEYS_DIR = KEYS_DIR;
}

export async function globalTeardown() {
  await Promise.allSettled(emulators.map((e) => e.stop()));
  let files: string[] = [];
  try {
    files = readdirSync(LOG_DIR).filter((f) => f.endsWith(".jsonl"));
  } catch {}
  const lines = files.flatMap((f) => readFileSync(join(LOG_DIR, f), "utf8").split("\n").filter(Boolean));
  const found = leaks(lines);
  if (files.length > 0 && lines.length === 0)
    throw new Error("log audit: the suite captured no service log line");
  if (found.length > 0)
    throw new Error(`log audit: customer secrets in service logs:\n${found.slice(0, 10).join("\n")}`);
  console.log(
    `log audit: ${lines.length} service log lines from ${files.length} files, no token, VPA, OTP or key material found`,
  );
}
