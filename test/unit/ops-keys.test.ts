import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { generateKeyPair } from "../../shared/security/keyring.ts";
import { DAY_SECONDS, keyMadeAt } from "../support/keys.ts";

const run = promisify(execFile);
const cli = join(import.meta.dirname, "../../infra/ops/cli.ts");

test("ops keys lists every key with its side, usability and reason, and never key material", async () => {
  const [ours, google, expired] = await Promise.all([
    generateKeyPair("ours", { rsaBits: 2048 }),
    generateKeyPair("google", { rsaBits: 2048 }),
    keyMadeAt("old", new Date(Date.now() - 3 * DAY_SECONDS * 1000), DAY_SECONDS),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "gsp-ops-keys-"));
  writeFileSync(join(dir, KEY_FILES.integratorPrivate), ours.privateKey);
  writeFileSync(join(dir, KEY_FILES.googlePublic), `${google.publicKey}\n${expired.publicKey}`);
  const { stdout } = await run(process.execPath, [cli, "keys", "--keys-dir", dir, "--json"]);
  const listed = JSON.parse(stdout) as { keys: { side: string; bits: number; unusable?: string }[] };
  assert.deepEqual(
    listed.keys.map((k) => [k.side, k.bits, k.unusable]),
    [
      ["ours", 2048, undefined],
      ["google", 2048, undefined],
      ["google", 2048, "has expired or has no valid self-signature."],
    ],
  );
  const table = (await run(process.execPath, [cli, "keys", "--keys-dir", dir])).stdout;
  for (const out of [stdout, table]) assert.ok(!/BEGIN PGP|PRIVATE/.test(out), "no key material");
  assert.match(table, /^google\t[0-9A-F]{40}\trsaEncryptSign 2048\t\S+\tNO: has expired/m);
});

test("ops keys finds the keys folder in the running stack's description, and says so when there is none", async () => {
  const [ours, google] = await Promise.all([
    generateKeyPair("ours", { rsaBits: 2048 }),
    generateKeyPair("google", { rsaBits: 2048 }),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "gsp-ops-keys-stack-"));
  const keysDir = join(dir, "keys");
  mkdirSync(keysDir);
  writeFileSync(join(keysDir, KEY_FILES.integratorPrivate), ours.privateKey);
  writeFileSync(join(keysDir, KEY_FILES.googlePublic), google.publicKey);
  const stackFile = join(dir, "stack.json");
  writeFileSync(stackFile, JSON.stringify({ keysDir }));
  const { stdout } = await run(process.execPath, [cli, "keys", "--stack-file", stackFile, "--json"]);
  const listed = JSON.parse(stdout) as { source: string; keys: { side: string; unusable?: string }[] };
  assert.equal(listed.source, `files in ${keysDir}`);
  assert.deepEqual(
    listed.keys.map((k) => [k.side, k.unusable]),
    [
      ["ours", undefined],
      ["google", undefined],
    ],
  );
  const missing = join(dir, "none.json");
  await assert.rejects(run(process.execPath, [cli, "keys", "--stack-file", missing]), (error) => {
    const e = error as { code: number; stderr: string };
    assert.equal(e.code, 1);
    assert.match(e.stderr, new RegExp(`no running local stack described at ${missing}`));
    return true;
  });
});
