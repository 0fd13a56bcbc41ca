import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { capture, captureRequest, testKeysDir } from "../support/google.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

/** Resolves with the URL from the ready line; rejects if the process ends first. */
function readyUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      const match = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolveUrl(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before ready: ${out}`)));
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("npm start: one ready line, serves captures, loads a ledger from the operator CLI, Ctrl-C stops the Java child too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gsp-start-"));
  const stackFile = join(dir, "stack.json");
  const child = spawn(process.execPath, ["infra/local/start.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", LOCAL_STACK_FILE: stackFile, KEYS_DIR: await testKeysDir() },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await readyUrl(child);
  const { stdout: ps } = await run("ps", ["-o", "pid=,comm=", "--ppid", String(child.pid)]);
  const javaPid = Number(
    ps
      .split("\n")
      .find((l) => l.includes("java"))
      ?.trim()
      .split(/\s+/)[0],
  );
  assert.ok(javaPid > 0, `DynamoDB Local runs as a child: ${ps}`);

  const first = await capture(url, captureRequest());
  assert.deepEqual([first.status, first.body.result], [200, "SUCCESS"]);

  // An operator loads another ledger into the running stack; its token works at once.
  const fixture = join(dir, "extra.json");
  writeFileSync(
    fixture,
    JSON.stringify({
      accounts: [{ accountId: "acct-extra", status: "ACTIVE", currencies: { INR: { balance: "5000000" } } }],
      tokens: [{ googlePaymentToken: "gpt-extra", accountId: "acct-extra", status: "ACTIVE" }],
    }),
  );
  const load = await run(
    process.execPath,
    ["infra/ops/cli.ts", "ledger", "load", fixture, "--stack-file", stackFile],
    { cwd: ROOT },
  );
  assert.match(load.stdout, /loaded 2 ledger items \(1 accounts\)/);
  const extra = await capture(url, captureRequest({ googlePaymentToken: "gpt-extra", amount: "6000000" }));
  assert.deepEqual([extra.body.result, extra.body.currentBalance], ["INSUFFICIENT_FUNDS", "5000000"]);

  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGINT");
  assert.equal(await exited, 0);
  assert.equal(alive(javaPid), false, "the Java child is gone");
});

test("without java on PATH, npm start says so in one sentence", async () => {
  const bin = mkdtempSync(join(tmpdir(), "gsp-nojava-"));
  symlinkSync(process.execPath, join(bin, "node"));
  const result = await run(process.execPath, ["infra/local/start.ts"], {
    cwd: ROOT,
    env: { ...process.env, PATH: bin, PORT: "0" },
  }).then(
    () => ({ code: 0, stderr: "" }),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(result.code, 1);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^DynamoDB Local needs Java 17 or newer, and no `java` was found on PATH: .*\.$/);
});

test("operator CLI: --help, and a clear word when no stack runs", async () => {
  const help = await run(process.execPath, ["infra/ops/cli.ts", "--help"], { cwd: ROOT });
  assert.match(help.stdout, /ledger load <fixture\.json>/);
  const missing = await run(
    process.execPath,
    ["infra/ops/cli.ts", "ledger", "load", "x.json", "--stack-file", "/nonexistent/stack.json"],
    {
      cwd: ROOT,
    },
  ).catch((e: { code: number; stderr: string }) => e);
  assert.equal((missing as { code: number }).code, 1);
  assert.match(
    (missing as { stderr: string }).stderr,
    /no running local stack described at \/nonexistent\/stack\.json/,
  );
});
