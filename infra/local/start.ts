/**
 * `npm start`: the whole service on this machine. Environment: PORT (default 3000),
 * LEDGER_SEED (a ledger fixture; default the demo ledger), LOCAL_PERSIST=1 (keep data in .local/data),
 * PIAIDS (JSON PIAID → currency), LEDGER_TIME_ZONE, KEYS_DIR (default .local/keys, generated on
 * first run), MESSAGE_CODEC=plain-json (no envelope; local only), LOCAL_STACK_FILE (where the
 * operator CLI finds the stack).
 * To run against emulators and a Google that outlive this process (as DynamoDB, SQS and Google
 * outlive a Lambda): DYNAMODB_ENDPOINT, SQS_ENDPOINT, TABLE_PREFIX, LEDGER_SEED=none,
 * GOOGLE_BASE_URL, OUTCOME_API_TOKEN; and SWEEP_INTERVAL_MS, CAPTURE_DEADLINE_SECONDS,
 * ENQUEUE_GRACE_SECONDS, NOTIFY_BACKOFF_BASE_SECONDS.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { KeyringError } from "../../shared/security/keyring.ts";
import { MissingJavaError } from "./emulators.ts";
import { ensureLocalKeys, KEY_FILES } from "./keys.ts";
import { DEFAULT_PIAIDS, DEMO_LEDGER, startLocalStack } from "./stack.ts";

const LOCAL_DIR = resolve(import.meta.dirname, "../../.local");
const STACK_FILE = process.env.LOCAL_STACK_FILE ?? resolve(LOCAL_DIR, "stack.json");

const env = process.env;
try {
  const messageCodec = env.MESSAGE_CODEC === "plain-json" ? "plain-json" : "openpgp";
  const keysDir = resolve(env.KEYS_DIR ?? resolve(LOCAL_DIR, "keys"));
  if (messageCodec === "openpgp" && (await ensureLocalKeys(keysDir))) {
    console.log(
      `generated an integrator keypair and a stand-in Google keypair in ${keysDir} (put Google's real public keys in ${KEY_FILES.googlePublic} to talk to Google)`,
    );
  }
  const stack = await startLocalStack({
    messageCodec,
    keysDir,
    port: Number(env.PORT ?? 3000),
    ...(env.LOCAL_PERSIST === "1" && { dataDir: resolve(LOCAL_DIR, "data") }),
    ...(env.LEDGER_SEED !== "none" && { ledgerSeed: env.LEDGER_SEED ?? DEMO_LEDGER }),
    ...(env.DYNAMODB_ENDPOINT && { dynamodbEndpoint: env.DYNAMODB_ENDPOINT }),
    ...(env.SQS_ENDPOINT && { sqsEndpoint: env.SQS_ENDPOINT }),
    ...(env.TABLE_PREFIX && { prefix: env.TABLE_PREFIX }),
    ...(env.GOOGLE_BASE_URL && { googleBaseUrl: env.GOOGLE_BASE_URL }),
    ...(env.OUTCOME_API_TOKEN && { outcomeToken: env.OUTCOME_API_TOKEN }),
    ...(env.SWEEP_INTERVAL_MS && { sweepIntervalMs: Number(env.SWEEP_INTERVAL_MS) }),
    ...(env.CAPTURE_DEADLINE_SECONDS && { captureDeadlineSeconds: Number(env.CAPTURE_DEADLINE_SECONDS) }),
    ...(env.ENQUEUE_GRACE_SECONDS && { enqueueGraceSeconds: Number(env.ENQUEUE_GRACE_SECONDS) }),
    ...(env.NOTIFY_BACKOFF_BASE_SECONDS && {
      notify: { backoffBaseSeconds: Number(env.NOTIFY_BACKOFF_BASE_SECONDS) },
    }),
    piaids: env.PIAIDS ? JSON.parse(env.PIAIDS) : DEFAULT_PIAIDS,
    ...(env.LEDGER_TIME_ZONE && { ledgerTimeZone: env.LEDGER_TIME_ZONE }),
  });
  mkdirSync(dirname(STACK_FILE), { recursive: true });
  // Where the operator CLI finds the running stack.
  writeFileSync(
    STACK_FILE,
    JSON.stringify(
      {
        url: stack.url,
        endpoints: stack.endpoints,
        tables: stack.config.tables,
        queues: stack.queues,
        ...(stack.config.otpPepper?.source === "file" && { otpPepperFile: stack.config.otpPepper.path }),
        outcomeToken: stack.outcomeToken,
      },
      null,
      2,
    ),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const codec = messageCodec === "openpgp" ? `OpenPGP, keys in ${keysDir}` : "plain JSON, no envelope";
  console.log(
    `gsp-integrator ready at ${stack.url} (${codec}; PIAIDs ${Object.keys(stack.config.piaids).join(", ")})`,
  );
} catch (error) {
  if (error instanceof MissingJavaError || error instanceof KeyringError) {
    console.error(error.message);
  } else {
    console.error(`could not start the local stack: ${(error as Error).message}`);
  }
  process.exit(1);
}
