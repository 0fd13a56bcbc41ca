/**
 * The running local stack's description: `npm start` writes it (LOCAL_STACK_FILE, default
 * .local/stack.json); `npm run ops`, `npm run google` and `npm run smoke -- --env local` read it.
 * One shape and one reader for all of them.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { RuntimeConfig } from "../../shared/config.ts";
import type { Schedule } from "../ops/explain.ts";
import type { QueueUrls } from "./provision.ts";

export interface StackFile {
  /** The Google-facing API. */
  url?: string;
  endpoints: { dynamodb: string; sqs: string };
  tables: RuntimeConfig["tables"];
  queues: Record<string, QueueUrls> & { notifications: QueueUrls & { deadLetterUrl: string } };
  otpPepperFile?: string;
  /** Bearer token of POST /internal/v1/captureOutcome. */
  outcomeToken?: string;
  messageCodec?: RuntimeConfig["messageCodec"];
  /** The keys folder (absent with the plain-json codec). */
  keysDir?: string;
  googleBaseUrl?: string;
  piaids?: Record<string, string>;
  ledgerTimeZone?: string;
  statementAcceptance?: RuntimeConfig["statementAcceptance"];
  /** Whether the stack runs a stand-in Google that receives its notifications. */
  standInGoogle?: boolean;
  /** The delivery schedule where it differs from the deployed defaults (`ops captures show`). */
  schedule?: Partial<Schedule>;
}

const DEFAULT_STACK_FILE = resolve(import.meta.dirname, "../../.local/stack.json");

/** The description's path: the one given, else LOCAL_STACK_FILE, else .local/stack.json. */
export const stackFilePath = (given?: string) =>
  resolve(given ?? process.env.LOCAL_STACK_FILE ?? DEFAULT_STACK_FILE);

/** The description at `path`; undefined when there is none (no stack started) or it is not JSON. */
export function readStackFile(path: string): StackFile | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as StackFile;
  } catch {
    return undefined;
  }
}
