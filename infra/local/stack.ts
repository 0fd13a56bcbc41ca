import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { createAsynchronousCaptureHandler } from "../../functions/asynchronous-capture/handler.ts";
import { createCaptureHandler } from "../../functions/capture/handler.ts";
import { createCaptureOutcomeHandler } from "../../functions/capture-outcome/handler.ts";
import { createEchoHandler } from "../../functions/echo/handler.ts";
import { createNotifierHandler } from "../../functions/notifier/handler.ts";
import { createReconcilerHandler } from "../../functions/reconciler/handler.ts";
import { createRefundHandler } from "../../functions/refund/handler.ts";
import { createRemittanceStatementNotificationHandler } from "../../functions/remittance-statement-notification/handler.ts";
import { loadLedger } from "../../shared/adapters/dynamodb/ledger-loader.ts";
import { RUNTIME_DEFAULTS, type RuntimeConfig } from "../../shared/config.ts";
import { sweep } from "../../shared/domain/sweeper.ts";
import { parseLedgerFixture } from "../../shared/ledger-fixture.ts";
import { createLogger, type Logger } from "../../shared/logging.ts";
import { type ServiceDeps, serviceDeps } from "../../shared/runtime.ts";
import { loadKeyring } from "../../shared/security/keyring.ts";
import { type FunctionName, functions, routes } from "../resources.ts";
import { type Emulator, LOCAL_AWS, startDynamoDbLocal, startSqsEmulator } from "./emulators.ts";
import { createGateway, type HttpApiHandler, lambdaContext } from "./gateway.ts";
import { type StandInGoogle, startStandInGoogle } from "./google-stand-in.ts";
import { KEY_FILES } from "./keys.ts";
import { createQueues, createTables, type QueueUrls } from "./provision.ts";
import { startSqsPoller } from "./sqs-poller.ts";

export const DEMO_LEDGER = new URL("./fixtures/demo-ledger.json", import.meta.url).pathname;
export const DEFAULT_PIAIDS = { InvisiCashIN_INR: "INR" };
/** Locally the sweeper runs every 10 s, for quick feedback; in the cloud its schedule is every minute (resources.ts). */
export const DEFAULT_SWEEP_INTERVAL_MS = 10_000;

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
  /** Whether refunds owe a refundResultNotification (REFUND_NOTIFICATIONS; on by default). */
  refundNotifications?: boolean;
  /** Who accepts an exactly reconciled statement (default "auto", as in dev). */
  statementAcceptance?: RuntimeConfig["statementAcceptance"];
  /** Default openpgp; plain-json only when asked (a deployed environment cannot ask). */
  messageCodec?: RuntimeConfig["messageCodec"];
  /** Folder with integrator.private.asc and google.public.asc (required with openpgp). */
  keysDir?: string;
  /** The OTP pepper's file (made on first use); default `otp-pepper` in keysDir. */
  otpPepperFile?: string;
  keyringTtlSeconds?: number;
  /** Where the notifier sends; default the stand-in Google this stack starts, else Google's own URL. */
  googleBaseUrl?: string;
  /**
   * Run a stand-in Google (when no googleBaseUrl is given). Default: when the keys folder holds the
   * stand-in's private key; start.ts also checks google.public.asc trusts it (ensureLocalKeys).
   */
  standInGoogle?: boolean;
  captureDeadlineSeconds?: number;
  notify?: Partial<RuntimeConfig["notify"]>;
  enqueueGraceSeconds?: number;
  /** How often the sweeper runs (0: only when `sweep()` is called). */
  sweepIntervalMs?: number;
  /** How long the stand-in Google stalls when told to be slow (default 10 s). */
  googleSlowMs?: number;
  /** Bearer token of the internal outcome route (default: random, in `outcomeToken`). */
  outcomeToken?: string;
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
  /** The stand-in Google the notifier talks to, when this stack runs one. */
  google: StandInGoogle | undefined;
  /** Token for POST /internal/v1/captureOutcome (Authorization: Bearer …), from loopback only. */
  outcomeToken: string;
  deps: ServiceDeps;
  /** Runs the sweeper once now. */
  sweep(): Promise<{ expired: number; enqueued: number }>;
  loadLedgerFile(path: string): Promise<number>;
  stop(): Promise<void>;
}

/** DynamoDB client whose commands are recorded by name, so tests and benchmarks can count round trips. */
/** A DynamoDB client for the local stack that records the name of every command it sends into `log`. */
export function countingClient(endpoint: string, log: string[]): DynamoDBClient {
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

const isLoopback = (address: string | undefined) =>
  address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";

/** The local stand-in for the IAM authoriser: loopback callers holding the stack's token. */
function localIamAuthorizer(token: string) {
  const expected = Buffer.from(`Bearer ${token}`);
  return (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? "");
    return (
      isLoopback(req.socket.remoteAddress) &&
      given.length === expected.length &&
      timingSafeEqual(given, expected)
    );
  };
}

/**
 * The whole system on one machine: DynamoDB Local and fauxqs, tables and queues from
 * infra/resources.ts, the real handlers behind an API Gateway-like HTTP server, the notifier fed
 * by an SQS poller, the sweeper on a timer, and a stand-in Google to notify.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = () => Promise.allSettled(stops.reverse().map((s) => s()));
  try {
    const startEmulator = async (start: () => Promise<Emulator>) => {
      const emulator = await start();
      stops.push(() => emulator.stop());
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
    const logger = options.logger ?? createLogger();
    const dynamodbCommands: string[] = [];
    const dynamodb = countingClient(dynamodbEndpoint, dynamodbCommands);
    const admin = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamodbEndpoint });
    const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: sqsEndpoint, useQueueUrlAsEndpoint: false });
    stops.push(async () => {
      dynamodb.destroy();
      admin.destroy();
      sqs.destroy();
    });
    const tableNames = await createTables(admin, prefix);
    const queueUrls = await createQueues(sqs, prefix);
    const piaids = options.piaids ?? DEFAULT_PIAIDS;
    const messageCodec = options.messageCodec ?? "openpgp";

    // The stand-in Google needs its own private key; with only Google's real public key there is none to run.
    let google: StandInGoogle | undefined;
    const keysDir = options.keysDir;
    const standIn =
      !options.googleBaseUrl &&
      messageCodec === "openpgp" &&
      keysDir !== undefined &&
      (options.standInGoogle ?? existsSync(join(keysDir, KEY_FILES.googleStandInPrivate)));
    if (standIn) {
      // Loaded before anything listens, so a missing or bad stand-in key stops start-up with its reason.
      const googleKeyring = await loadKeyring(
        {
          own: await readFile(join(keysDir, KEY_FILES.googleStandInPrivate), "utf8"),
          peer: await readFile(join(keysDir, KEY_FILES.integratorPublic), "utf8"),
        },
        { own: "Google stand-in private", peer: "integrator public" },
      );
      google = await startStandInGoogle({
        keyring: async () => googleKeyring,
        piaids: Object.keys(piaids),
        ...(options.googleSlowMs !== undefined && { slowMs: options.googleSlowMs }),
      });
      stops.push(() => google!.stop());
    }

    const config: RuntimeConfig = {
      stage: "local",
      tables: tableNames,
      piaids,
      messageCodec,
      ledgerTimeZone: options.ledgerTimeZone ?? "UTC",
      ...(options.keysDir && { keys: { source: "files" as const, dir: options.keysDir } }),
      keyringTtlSeconds: options.keyringTtlSeconds ?? RUNTIME_DEFAULTS.keyringTtlSeconds,
      notificationsQueueUrl: queueUrls.notifications.url,
      notificationsDlqUrl: queueUrls.notifications.deadLetterUrl,
      otpPepper: {
        source: "file",
        path: options.otpPepperFile ?? join(options.keysDir ?? tmpdir(), "otp-pepper"),
      },
      googleBaseUrl: options.googleBaseUrl ?? google?.url ?? RUNTIME_DEFAULTS.googleBaseUrl,
      captureDeadlineSeconds: options.captureDeadlineSeconds ?? RUNTIME_DEFAULTS.captureDeadlineSeconds,
      notify: { ...RUNTIME_DEFAULTS.notify, ...options.notify },
      enqueueGraceSeconds: options.enqueueGraceSeconds ?? RUNTIME_DEFAULTS.enqueueGraceSeconds,
      refundNotifications: options.refundNotifications ?? RUNTIME_DEFAULTS.refundNotifications,
      statementsQueueUrl: queueUrls.statements.url,
      statementAcceptance: options.statementAcceptance ?? "auto",
    };
    const deps = serviceDeps(config, { dynamodb, sqs, logger });
    // A bad keyring stops start-up here, with its one-sentence reason.
    await deps.keyring?.get();
    const loadLedgerFile = async (path: string) =>
      loadLedger(
        admin,
        tableNames.ledger,
        parseLedgerFixture(JSON.parse(readFileSync(path, "utf8")), await deps.capture.otpPepper!()),
      );
    if (options.ledgerSeed) await loadLedgerFile(options.ledgerSeed);

    const outcomeToken = options.outcomeToken ?? randomBytes(18).toString("base64url");
    const httpHandlers: Partial<Record<FunctionName, HttpApiHandler>> = {
      capture: createCaptureHandler(deps) as unknown as HttpApiHandler,
      asynchronousCapture: createAsynchronousCaptureHandler(deps) as unknown as HttpApiHandler,
      captureOutcome: createCaptureOutcomeHandler(deps),
      refund: createRefundHandler(deps) as unknown as HttpApiHandler,
      echo: createEchoHandler(deps) as unknown as HttpApiHandler,
      remittanceStatementNotification: createRemittanceStatementNotificationHandler(
        deps,
      ) as unknown as HttpApiHandler,
    };
    const server = createGateway(
      routes.map((r) => ({
        method: r.method,
        path: r.path,
        functionName: r.function,
        handler: httpHandlers[r.function]!,
        timeoutSeconds: functions[r.function].timeoutSeconds,
        ...(r.auth === "iam" && { authorize: localIamAuthorizer(outcomeToken) }),
      })),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 3000, "127.0.0.1", () => resolve());
    });
    stops.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as AddressInfo;

    const consumers = {
      notifier: createNotifierHandler(deps, sqs),
      reconciler: createReconcilerHandler(deps),
    };
    for (const [name, handler] of Object.entries(consumers) as [
      keyof typeof consumers,
      typeof consumers.notifier,
    ][]) {
      const definition = functions[name];
      const poller = startSqsPoller({
        sqs,
        queueUrl: queueUrls[definition.consumes.queue].url,
        queueArn: queueUrls[definition.consumes.queue].arn,
        batchSize: definition.consumes.batchSize,
        handler,
        context: () =>
          lambdaContext(
            { functionName: name, timeoutSeconds: definition.timeoutSeconds },
            randomBytes(8).toString("hex"),
          ) as Context,
        logger,
      });
      stops.push(() => poller.stop());
    }

    const runSweep = () => sweep(deps.outcome);
    const sweepEvery = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (sweepEvery > 0) {
      const timer = setInterval(() => {
        runSweep().then(
          (counts) => (counts.expired || counts.enqueued) && logger.info("sweep", counts),
          (error: Error) => logger.warn("sweep failed", { error }),
        );
      }, sweepEvery);
      stops.push(async () => clearInterval(timer));
    }

    return {
      url: `http://127.0.0.1:${port}`,
      config,
      dynamodb: admin,
      sqs,
      endpoints: { dynamodb: dynamodbEndpoint, sqs: sqsEndpoint },
      queues: queueUrls,
      dynamodbCommands,
      google,
      outcomeToken,
      deps,
      sweep: runSweep,
      loadLedgerFile,
      stop: async () => {
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
