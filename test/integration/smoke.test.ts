/**
 * `npm run smoke` against the local stack, whose Google keyring trusts a smoke key (as a non-prod
 * stage's does): every check passes and the smoke account ends where it began; an untrusted smoke
 * key fails every check and exits 1; the read-only (prod) checks pass; bad arguments exit 2.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { addLocalSmokeKey, SMOKE_KEY_FILE } from "../../infra/smoke/keys.ts";
import { testKeysDir } from "../support/google.ts";
import { balance } from "../support/ledger.ts";
import { startTestStack } from "../support/stack.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "gsp-smoke-"));

/** This file's keys folder: the suite's keys, plus a smoke key its Google keyring trusts. */
const keysDir = join(dir, "keys");
const suiteKeys = await testKeysDir();
mkdirSync(keysDir, { mode: 0o700 });
for (const file of readdirSync(suiteKeys)) copyFileSync(join(suiteKeys, file), join(keysDir, file));
assert.equal(await addLocalSmokeKey(keysDir, 2048), true);
assert.equal(await addLocalSmokeKey(keysDir, 2048), false, "a second call keeps the key there");

const stack = await startTestStack(import.meta.filename, {
  keysDir,
  notify: { backoffBaseSeconds: 0, timeoutMs: 2000 },
  sweepIntervalMs: 0,
});
assert.ok(stack.google, "the stack runs a stand-in Google");

/** As npm start describes a running stack. */
function stackFile(name: string, overrides: Record<string, unknown> = {}) {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      url: stack.url,
      endpoints: stack.endpoints,
      tables: stack.config.tables,
      queues: stack.queues,
      outcomeToken: stack.outcomeToken,
      messageCodec: "openpgp",
      keysDir,
      googleBaseUrl: stack.config.googleBaseUrl,
      piaids: stack.config.piaids,
      ledgerTimeZone: stack.config.ledgerTimeZone,
      standInGoogle: true,
      ...overrides,
    }),
  );
  return file;
}
const withStandIn = stackFile("stack.json");

async function smoke(...args: string[]) {
  const { GSP_URL: _url, LOCAL_STACK_FILE: _file, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, ["infra/smoke/cli.ts", ...args], {
      cwd: ROOT,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const lines = (stdout: string) => stdout.trimEnd().split("\n");
const checkOf = (line: string) => /^(ok {2}|FAIL|skip) ([a-z-]+):/.exec(line)?.slice(1, 3).join(" ");

test("non-prod checks on the local stack: echo, capture, replay, refund, the asynchronous capture notified; the smoke account is unchanged", async () => {
  const before = await balance(stack, "acct-smoke");
  const result = await smoke("--env", "local", "--stack-file", withStandIn);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const out = lines(result.stdout);
  assert.equal(out[0], `smoke: local stack at ${stack.url}`);
  assert.deepEqual(out.slice(1, -1).map(checkOf), [
    "ok   echo",
    "ok   capture",
    "ok   replay",
    "ok   refund",
    "ok   asynchronous-notification",
  ]);
  assert.equal(out.at(-1), "smoke: 5 ok, 0 failed, 0 skipped");
  assert.equal(await balance(stack, "acct-smoke"), before, "every capture was refunded in full");
  assert.equal(
    stack.google!.received.length,
    1,
    "the stand-in Google received the asynchronous capture's notification",
  );
  assert.equal(stack.google!.received[0]!.request.captureResult.captureResultCode, "SUCCESS");
  assert.doesNotMatch(
    result.stdout + result.stderr,
    /gpt-smoke|smoke@demobank/,
    "no token or VPA in the output",
  );
});

test("without a stand-in endpoint the asynchronous check is skipped, not failed", async () => {
  const result = await smoke(
    "--env",
    "local",
    "--stack-file",
    stackFile("no-standin.json", { standInGoogle: false }),
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    /^skip asynchronous-notification: no stand-in endpoint receives this stage's notifications \(they go to Google\)$/m,
  );
  assert.equal(lines(result.stdout).at(-1), "smoke: 4 ok, 0 failed, 1 skipped");
});

test("a smoke key the stage does not trust fails every check, exits 1, and moves no money", async () => {
  const untrusted = join(dir, "untrusted");
  mkdirSync(untrusted, { mode: 0o700 });
  copyFileSync(join(keysDir, KEY_FILES.integratorPublic), join(untrusted, KEY_FILES.integratorPublic));
  writeFileSync(join(untrusted, KEY_FILES.googlePublic), "");
  await addLocalSmokeKey(untrusted, 2048);
  const before = await balance(stack, "acct-smoke");
  const result = await smoke("--env", "local", "--stack-file", withStandIn, "--keys", untrusted);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  const out = lines(result.stdout);
  assert.deepEqual(out.slice(1, -1).map(checkOf), [
    "FAIL echo",
    "FAIL capture",
    "FAIL replay",
    "FAIL refund",
    "FAIL asynchronous-notification",
  ]);
  assert.match(out[1]!, /^FAIL echo: echo: HTTP 401 \(bare\), /);
  assert.equal(out[3], "FAIL replay: replay: no capture to replay (the capture check failed)");
  assert.equal(out.at(-1), "smoke: 0 ok, 5 failed, 0 skipped");
  assert.equal(await balance(stack, "acct-smoke"), before);
});

test("read-only (the prod checks): our outbound Google echo and the health check, nothing written", async () => {
  const commands = stack.dynamodbCommands.length;
  const result = await smoke("--env", "local", "--stack-file", withStandIn, "--read-only");
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const out = lines(result.stdout);
  assert.deepEqual(out.slice(1, -1).map(checkOf), ["ok   google-echo", "ok   health"], result.stdout);
  assert.match(
    out[1]!,
    /^ok {3}google-echo: Google's echo at http:\/\/127\.0\.0\.1:\d+ verified us for InvisiCashIN_INR/,
  );
  assert.match(out[2]!, /answered an unsealed body with 400 INVALID_PAYLOAD_ENCRYPTION, reading nothing/);
  assert.equal(out.at(-1), "smoke: 2 ok, 0 failed, 0 skipped");
  assert.equal(stack.dynamodbCommands.length, commands, "the service sent no DynamoDB command");
});

test("refusals before checking exit 2 with one sentence", async () => {
  const unknown = await smoke("--env", "staging");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^choose a stage with --env \(got "staging"\)/);
  const noKey = join(dir, "no-smoke-key");
  mkdirSync(noKey);
  const missing = await smoke("--env", "local", "--stack-file", withStandIn, "--keys", noKey);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr.trim(),
    `no ${SMOKE_KEY_FILE} in ${noKey}: run once with --add-local-smoke-key (the local Google keyring then trusts it)`,
  );
  assert.equal(existsSync(join(noKey, SMOKE_KEY_FILE)), false);
  assert.ok(
    readFileSync(join(keysDir, KEY_FILES.googlePublic), "utf8").includes("BEGIN PGP PUBLIC KEY BLOCK"),
  );
});
