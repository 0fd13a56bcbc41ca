import { appendFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";

/**
 * Captures the service's structured log lines written in this test process: kept in memory for
 * assertions and appended to $TEST_LOG_DIR for the whole-suite audit in global teardown.
 */
export const capturedLogs: string[] = [];

let installed = false;
export function captureServiceLogs(testFile: string): string[] {
  if (installed) return capturedLogs;
  installed = true;
  const dir = process.env.TEST_LOG_DIR;
  const file = dir ? join(dir, `${basename(testFile)}.${process.pid}.jsonl`) : undefined;
  if (dir) mkdirSync(dir, { recursive: true });
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text =
        typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : undefined;
      // Structured log lines and EMF metric lines of the service.
      if (text?.startsWith('{"level":') || text?.startsWith('{"_aws":')) {
        const lines = text.split("\n").filter(Boolean);
        capturedLogs.push(...lines);
        if (file) appendFileSync(file, `${lines.join("\n")}\n`);
        const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
        callback?.();
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  return capturedLogs;
}

/** Adds another process's output (a service child process) to this file's captured service logs. */
export function captureChildOutput(testFile: string, text: string): void {
  captureServiceLogs(testFile);
  const lines = text.split("\n").filter((l) => l.startsWith('{"level":') || l.startsWith('{"_aws":'));
  if (lines.length === 0) return;
  capturedLogs.push(...lines);
  const dir = process.env.TEST_LOG_DIR;
  if (dir) appendFileSync(join(dir, `${basename(testFile)}.children.jsonl`), `${lines.join("\n")}\n`);
}

export const parsedLogs = () => capturedLogs.map((l) => JSON.parse(l) as Record<string, unknown>);
