/**
 * The local keys folder, file combination by file combination: nothing in it is ever replaced, only
 * what is missing is written (and named), a public key without its private key is refused, and the
 * stand-in Google runs only with its own key trusted. Then `npm start` with the README's two files
 * (our private key, Google's real public key): it keeps the key, runs without a stand-in, says where
 * notifications go, and survives the first notification.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import * as openpgp from "openpgp";
import { callIntegrator } from "../../infra/google/client.ts";
import { freePort } from "../../infra/local/emulators.ts";
import { ensureLocalKeys, KEY_FILES, LocalKeysError } from "../../infra/local/keys.ts";
import { generateKeyPair, loadKeyring } from "../../shared/security/keyring.ts";
import { asynchronousCaptureRequest, PIAID, reportOutcome, requestId, until } from "../support/google.ts";
import { startTestStack } from "../support/stack.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const { integratorPrivate: IP, integratorPublic: IU, googlePublic: GU, googleStandInPrivate: GS } = KEY_FILES;

const [ours, standIn, realGoogle] = await Promise.all([
  generateKeyPair("integrator (test)", { rsaBits: 2048 }),
  generateKeyPair("stand-in (test)", { rsaBits: 2048 }),
  generateKeyPair("Google (test)", { rsaBits: 2048 }),
]);
const fingerprints = async (armored: string) =>
  (await openpgp.readKeys({ armoredKeys: armored })).map((k) => k.getFingerprint());

/** What each file holds when present; google.public.asc is either the stand-in's or Google's. */
function contents(googlePublic: "stand-in" | "google"): Record<string, string> {
  return {
    [IP]: ours.privateKey,
    [IU]: ours.publicKey,
    [GU]: googlePublic === "stand-in" ? standIn.publicKey : realGoogle.publicKey,
    [GS]: standIn.privateKey,
  };
}

interface Case {
  present: string[];
  googlePublic: "stand-in" | "google";
}
const cases: Case[] = [];
for (let mask = 0; mask < 16; mask++) {
  const present = [IP, IU, GU, GS].filter((_, i) => mask & (1 << i));
  cases.push({ present, googlePublic: "stand-in" });
  if (present.includes(GU)) cases.push({ present, googlePublic: "google" });
}

describe("ensureLocalKeys, each combination of files present", () => {
  for (const c of cases) {
    const label = `${c.present.join(" + ") || "empty folder"}${c.present.includes(GU) ? ` (${GU} is ${c.googlePublic === "google" ? "Google's" : "the stand-in's"})` : ""}`;
    test(label, async () => {
      const dir = mkdtempSync(join(tmpdir(), "gsp-keys-"));
      const given = contents(c.googlePublic);
      for (const f of c.present) writeFileSync(join(dir, f), given[f]!);
      const has = (f: string) => c.present.includes(f);

      if (has(IU) && !has(IP)) {
        await assert.rejects(ensureLocalKeys(dir, 2048), (e: Error) => {
          assert.ok(e instanceof LocalKeysError);
          assert.match(
            e.message,
            /integrator\.public\.asc is there without integrator\.private\.asc: put the private key back/,
          );
          return true;
        });
        for (const f of [IP, IU, GU, GS]) assert.equal(existsSync(join(dir, f)), has(f), `${f} untouched`);
        return;
      }
      const keys = await ensureLocalKeys(dir, 2048);

      for (const f of c.present)
        assert.equal(readFileSync(join(dir, f), "utf8"), given[f], `${f} is never replaced`);
      const expectedNew = [
        ...(!has(IP) ? [IP, IU] : !has(IU) ? [IU] : []),
        ...(has(GS) ? (!has(GU) ? [GU] : []) : !has(GU) ? [GS, GU] : []),
      ];
      assert.deepEqual(
        keys.written.map((w) => w.split(" ")[0]).sort(),
        expectedNew.sort(),
        "exactly the missing files are written, and named",
      );
      assert.equal(
        existsSync(join(dir, GS)),
        has(GS) || !has(GU),
        "a stand-in key only when there was none of Google's",
      );
      for (const f of [IP, IU, GU]) assert.ok(existsSync(join(dir, f)));

      // Each written public key is the public half of the private key beside it.
      const ownPrivate = readFileSync(join(dir, IP), "utf8");
      assert.deepEqual(
        await fingerprints(readFileSync(join(dir, IU), "utf8")),
        await fingerprints(ownPrivate),
      );
      const standInRuns = has(GS) ? !has(GU) || c.googlePublic === "stand-in" : !has(GU);
      assert.equal(keys.standIn, standInRuns);
      if (standInRuns) {
        assert.deepEqual(
          await fingerprints(readFileSync(join(dir, GU), "utf8")),
          await fingerprints(readFileSync(join(dir, GS), "utf8")),
        );
      } else {
        assert.match(
          keys.noStandInBecause!,
          has(GS) ? /does not hold the key of google-standin/ : /is taken to be Google's/,
        );
      }
      // And the folder is one the service can load.
      await loadKeyring(
        { own: ownPrivate, peer: readFileSync(join(dir, GU), "utf8") },
        { own: "integrator private", peer: "Google public" },
      );
    });
  }
});

/** Starts `npm start` on the suite's emulators; resolves with its output once ready. */
function start(env: Record<string, string>): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, ["infra/local/start.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: "0",
      SWEEP_INTERVAL_MS: "0",
      ...(process.env.TEST_DYNAMODB_ENDPOINT && { DYNAMODB_ENDPOINT: process.env.TEST_DYNAMODB_ENDPOINT }),
      ...(process.env.TEST_SQS_ENDPOINT && { SQS_ENDPOINT: process.env.TEST_SQS_ENDPOINT }),
      TABLE_PREFIX: `k${process.pid}${Date.now().toString(36)}-`,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ready = new Promise<string>((done, fail) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (/ready at http/.test(out)) done(out);
    });
    child.stderr!.on("data", (d: Buffer) => {
      out += d;
    });
    child.once("exit", (code) => fail(new Error(`exited ${code} before ready: ${out}`)));
  });
  return { child, ready };
}
const stopped = (child: ChildProcess) =>
  new Promise<number | null>((done) => {
    child.once("exit", (code) => done(code));
    child.kill("SIGINT");
  });

describe("npm start with the README's two files: our private key and Google's real public key", () => {
  test("keeps the private key, runs without a stand-in, says where notifications go, and survives one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gsp-keys-start-"));
    writeFileSync(join(dir, IP), ours.privateKey);
    writeFileSync(join(dir, GU), realGoogle.publicKey);
    const stackFile = join(dir, "stack.json");
    const closedPort = await freePort(); // nothing listens: every try fails, nothing leaves the machine
    const google = `http://127.0.0.1:${closedPort}`;
    const { child, ready } = start({ KEYS_DIR: dir, LOCAL_STACK_FILE: stackFile, GOOGLE_BASE_URL: google });
    try {
      const out = await ready;
      assert.match(
        out,
        new RegExp(
          `wrote in ${dir}: integrator\\.public\\.asc \\(the public half of integrator\\.private\\.asc\\)\\n`,
        ),
      );
      assert.doesNotMatch(out, /stand-in Google (private )?key/i, "claims no stand-in key it did not make");
      assert.match(out, new RegExp(`notifications go to ${google} \\(GOOGLE_BASE_URL\\)`));
      assert.equal(readFileSync(join(dir, IP), "utf8"), ours.privateKey);
      assert.equal(existsSync(join(dir, GS)), false);
      const described = JSON.parse(readFileSync(stackFile, "utf8"));
      assert.deepEqual(
        [described.standInGoogle, described.googleBaseUrl, described.keysDir],
        [false, google, dir],
      );

      // Google (here: the test, holding "Google's" private key) sends an asynchronousCapture; we approve it.
      const keyring = await loadKeyring(
        { own: realGoogle.privateKey, peer: readFileSync(join(dir, IU), "utf8") },
        { own: "Google private", peer: "integrator public" },
      );
      const id = requestId("realkey");
      const ack = await callIntegrator(
        described.url,
        "/v1/asynchronousCapture",
        asynchronousCaptureRequest({}, id),
        { keyring },
      );
      assert.equal(ack.body.result, "ACKNOWLEDGED");
      const outcome = await reportOutcome(described, { captureRequestId: id, outcome: "APPROVED" });
      assert.equal(outcome.status, 200);
      // The notifier's first try fails (connection refused) and is recorded; the process lives on.
      const show = () =>
        new Promise<string>((done) =>
          execFile(
            process.execPath,
            ["infra/ops/cli.ts", "captures", "show", PIAID, id, "--stack-file", stackFile],
            { cwd: ROOT },
            (_e, stdout) => done(stdout),
          ),
        );
      await until("a failed try recorded", async () => /deliveries \([1-9]\d*\):/.test(await show()), 30_000);
      assert.equal(child.exitCode, null, "still running after the first notification");
    } finally {
      assert.equal(await stopped(child), 0);
    }
  });

  test("no stand-in key and no GOOGLE_BASE_URL: the stack starts no stand-in (which would crash on its first notification)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gsp-keys-stack-"));
    writeFileSync(join(dir, IP), ours.privateKey);
    writeFileSync(join(dir, IU), ours.publicKey);
    writeFileSync(join(dir, GU), realGoogle.publicKey);
    const stack = await startTestStack(import.meta.filename, { keysDir: dir, sweepIntervalMs: 0 });
    assert.equal(stack.google, undefined);
    assert.equal(stack.config.googleBaseUrl, "https://vgw.googleapis.com");
  });

  test("without GOOGLE_BASE_URL it says notifications go to Google's own URL, and why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gsp-keys-start-"));
    writeFileSync(join(dir, IP), ours.privateKey);
    writeFileSync(join(dir, IU), ours.publicKey);
    writeFileSync(join(dir, GU), realGoogle.publicKey);
    writeFileSync(join(dir, GS), standIn.privateKey); // left over from an earlier run: Google's key replaced its public half
    const { child, ready } = start({
      KEYS_DIR: dir,
      LOCAL_STACK_FILE: join(dir, "stack.json"),
      GOOGLE_BASE_URL: "",
    });
    try {
      const out = await ready;
      assert.doesNotMatch(out, /^wrote in/m, "nothing was missing, nothing written");
      assert.match(
        out,
        /notifications go to https:\/\/vgw\.googleapis\.com \(no stand-in Google: google\.public\.asc does not hold the key of google-standin\.private\.asc \(it holds Google's\)\)/,
      );
      assert.match(out, /npm run google cannot sign as Google with these keys/);
    } finally {
      assert.equal(await stopped(child), 0);
    }
  });

  test("a setting it cannot use stops it with one sentence naming the setting", async () => {
    for (const [name, value, reason] of [
      ["PORT", "abc", /^PORT must be a number of at least 0, not "abc"\.$/],
      ["MESSAGE_CODEC", "xml", /^MESSAGE_CODEC must be "openpgp" or "plain-json", not "xml"\.$/],
      ["NOTIFY_TIMEOUT_MS", "-5", /^NOTIFY_TIMEOUT_MS must be a number of at least 1, not "-5"\.$/],
    ] as const) {
      const { child, ready } = start({
        [name]: value,
        KEYS_DIR: mkdtempSync(join(tmpdir(), "gsp-keys-bad-")),
      });
      const error = await ready.then(
        () => "",
        (e: Error) => e.message,
      );
      assert.equal(child.exitCode, 1);
      assert.match(error.replace(/^exited 1 before ready: /, "").trim(), reason);
    }
  });
});
