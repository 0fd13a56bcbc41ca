import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createCaptureHandler } from "../../functions/capture/handler.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import type { RuntimeConfig } from "../../shared/config.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import type { Logger } from "../../shared/logging.ts";
import { type ServiceDeps, serviceDeps } from "../../shared/runtime.ts";
import { type FunctionName, functions, routes } from "../resources.ts";
import { type Emulator, LOCAL_AWS, startDynamoDbLocal, startSqsEmulator } from "./emulators.ts";
import { createGateway, type HttpApiHandler } from "./gateway.ts";
import { createQueues, createTables, type QueueUrls } from "./provision.ts";

export const DEMO_LEDGER = new URL("./fixtures/demo-ledger.json", import.meta.url).pathname;
export const DEFAULT_PIAIDS = { InvisiCashIN_INR: "INR" };

export interface LocalStackOptions {
  /** Gateway port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Keep DynamoDB and SQS data on disk here instead of in memory. */
  dataDir?: string;
  /** Prefix of table and queue names, so several stacks can share one pair of emulators. */
  prefix?: string;
  /** Use running emulators instead of starting new ones. */
  dynamodbEndpoint?: string;
  sqsEndpoint?: string;
  /** Ledger fixture to load at start. */
  ledgerSeed?: string;
  piaids?: Record<string, string>;
  ledgerTimeZone?: string;
  /** Default openpgp; plain-json only when asked (a deployed environment cannot ask). */
  messageCodec?: RuntimeConfig["messageCodec"];
  /** Folder with integrator.private.asc and google.public.asc (required with openpgp). */
  keysDir?: string;
  keyringTtlSeconds?: number;
  logger?: Logger;
}

export interface LocalStack {
  url: string;
  config: RuntimeConfig;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  endpoints: { dynamodb: string; sqs: string };
  queues: Record<string, QueueUrls>;
  /** Names of the DynamoDB commands the handlers sent, in order (for request budgets). */
  dynamodbCommands: string[];
  loadLedgerFile(path: string): Promise<number>;
  stop(): Promise<void>;
}

/** DynamoDB client whose commands are recorded by name, so tests and benchmarks can count round trips. */
function countingClient(endpoint: string, log: string[]): DynamoDBClient {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      log.push(context.commandName as string);
      return next(args);
    },
    { step: "initialize", name: "commandRecorder" },
  );
  return client;
}

/**
 * The whole system on one machine: DynamoDB Local and fauxqs, tables and queues from
 * infra/resources.ts, and the real handlers behind an API Gateway-like HTTP server.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started: Emulator[] = [];
  const stopStarted = () => Promise.allSettled(started.reverse().map((e) => e.stop()));
  try {
    const startEmulator = async (start: () => Promise<Emulator>) => {
      const emulator = await start();
      started.push(emulator);
      return emulator.endpoint;
    };
    const dataDir = options.dataDir;
    const dynamodbEndpoint: string =
      options.dynamodbEndpoint ??
      (await startEmulator(() =>
        startDynamoDbLocal(dataDir ? { persistDir: join(dataDir, "dynamodb") } : {}),
      ));
    const sqsEndpoint: string =
      options.sqsEndpoint ??
      (await startEmulator(() => startSqsEmulator(dataDir ? { dataDir: join(dataDir, "sqs") } : {})));

    const prefix = options.prefix ?? "local-";
    const dynamodbCommands: string[] = [];
    const dynamodb = countingClient(dynamodbEndpoint, dynamodbCommands);
    const admin = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamodbEndpoint });
    const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: sqsEndpoint, useQueueUrlAsEndpoint: false });
    const tableNames = await createTables(admin, prefix);
    const queueUrls = await createQueues(sqs, prefix);

    const messageCodec = options.messageCodec ?? "openpgp";
    const config: RuntimeConfig = {
      stage: "local",
      tables: tableNames,
      piaids: options.piaids ?? DEFAULT_PIAIDS,
      messageCodec,
      ledgerTimeZone: options.ledgerTimeZone ?? "UTC",
      ...(options.keysDir && { keys: { source: "files" as const, dir: options.keysDir } }),
      keyringTtlSeconds: options.keyringTtlSeconds ?? 300,
    };
    const deps = serviceDeps(config, { dynamodb, ...(options.logger && { logger: options.logger }) });
    // A bad keyring stops start-up here, with its one-sentence reason.
    await deps.keyring?.get();
    const loadLedgerFile = async (path: string) =>
      loadLedger(admin, tableNames.ledger, parseLedgerFixture(JSON.parse(readFileSync(path, "utf8"))));
    if (options.ledgerSeed) await loadLedgerFile(options.ledgerSeed);

    const handlers: Record<FunctionName, (d: ServiceDeps) => HttpApiHandler> = {
      capture: (d) => createCaptureHandler(d) as unknown as HttpApiHandler,
    };
    const server = createGateway(
      routes.map((r) => ({
        method: r.method,
        path: r.path,
        functionName: r.function,
        handler: handlers[r.function](deps),
        timeoutSeconds: functions[r.function].timeoutSeconds,
      })),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 3000, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;

    return {
      url: `http://127.0.0.1:${port}`,
      config,
      dynamodb: admin,
      sqs,
      endpoints: { dynamodb: dynamodbEndpoint, sqs: sqsEndpoint },
      queues: queueUrls,
      dynamodbCommands,
      loadLedgerFile,
      async stop() {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        dynamodb.destroy();
        admin.destroy();
        sqs.destroy();
        await stopStarted();
      },
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}
