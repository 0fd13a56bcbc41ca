import { randomBytes } from "node:crypto";
import { after } from "node:test";
import {
  DEMO_LEDGER,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from "../../infra/local/stack.ts";
import { testKeysDir } from "./google.ts";
import { captureServiceLogs } from "./log-capture.ts";

/**
 * A local stack for one test file: the suite's shared emulators (global setup) when present,
 * fresh tables and queues under a unique prefix, the demo ledger, a random port. Stopped after the file.
 */
export async function startTestStack(testFile: string, options: LocalStackOptions = {}): Promise<LocalStack> {
  captureServiceLogs(testFile);
  const stack = await startLocalStack({
    port: 0,
    messageCodec: "openpgp",
    keysDir: await testKeysDir(),
    prefix: `t${randomBytes(4).toString("hex")}-`,
    ledgerSeed: DEMO_LEDGER,
    ...(process.env.TEST_DYNAMODB_ENDPOINT && { dynamodbEndpoint: process.env.TEST_DYNAMODB_ENDPOINT }),
    ...(process.env.TEST_SQS_ENDPOINT && { sqsEndpoint: process.env.TEST_SQS_ENDPOINT }),
    ...options,
  });
  after(() => stack.stop());
  return stack;
}
