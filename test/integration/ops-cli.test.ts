/**
 * `npm run ops`, as an on-call operator uses it: every command against the local stack and, through
 * the same emulators, as a deployed environment (`--env`, the SDK pointed at them by
 * AWS_ENDPOINT_URL_*): refusals and exit codes, --json, the printed target, confirmation, the DLQ
 * left visible while listed, a poison message deleted with its reason, replay, captures by state,
 * the stuck explanation, and recover.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import {
  asynchronousCapture,
  asynchronousCaptureRequest,
  capture,
  captureRequest,
  PIAID,
  refund,
  refundRequest,
  reportOutcome,
  requestId,
  until,
} from "../support/google.ts";
import { startTestStack } from "../support/stack.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** The stack's tables and queues are named as environment ENV's would be (gsp-ENV-…). */
const ENV = `t${randomBytes(3).toString("hex")}`;
const stack = await startTestStack(import.meta.filename, {
  prefix: `gsp-${ENV}-`,
  sweepIntervalMs: 0,
  notify: { backoffBaseSeconds: 0, timeoutMs: 400 },
});
const google = stack.google!;
const dir = mkdtempSync(join(tmpdir(), "gsp-ops-cli-"));
const stackFile = join(dir, "stack.json");
writeFileSync(
  stackFile,
  JSON.stringify({
    endpoints: stack.endpoints,
    tables: stack.config.tables,
    queues: stack.queues,
    // As npm start writes them: what google echo and the statements commands need.
    keysDir: stack.config.keys?.source === "files" ? stack.config.keys.dir : undefined,
    messageCodec: stack.config.messageCodec,
    googleBaseUrl: stack.config.googleBaseUrl,
    piaids: stack.config.piaids,
    ledgerTimeZone: stack.config.ledgerTimeZone,
    schedule: {
      backoffBaseSeconds: 0,
      backoffCapSeconds: 900,
      enqueueGraceSeconds: 30,
      sweepEverySeconds: 10,
    },
  }),
);
const dlqUrl = stack.queues.notifications!.deadLetterUrl;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs the CLI (stdin not a terminal); on the test stack (or the stack file named), or as environment ENV (or the one named). */
function ops(args: string[], options: { env?: true | string; stackFile?: string } = {}): Promise<Run> {
  const target = options.env
    ? ["--env", options.env === true ? ENV : options.env]
    : ["--stack-file", options.stackFile ?? stackFile];
  const env = options.env
    ? {
        ...process.env,
        AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb,
        AWS_ENDPOINT_URL_SQS: stack.endpoints.sqs,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
      }
    : process.env;
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["infra/ops/cli.ts", ...args, ...target],
      { cwd: ROOT, env },
      (error, stdout, stderr) =>
        done({ code: error ? Number((error as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}
const json = (r: Run) =>
  JSON.parse(r.stdout) as Record<string, unknown> & { target: Record<string, unknown> };

async function dlqDepth() {
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: dlqUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(out.Attributes!.ApproximateNumberOfMessages),
    hidden: Number(out.Attributes!.ApproximateNumberOfMessagesNotVisible),
  };
}
const record = (id: string) => stack.deps.capture.store.get(`${PIAID}#${id}`);
const deliveredFor = (id: string) => google.received.filter((r) => r.request.captureRequestId === id).length;

async function approved(): Promise<string> {
  const id = requestId("ops");
  assert.equal(
    (await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount: "1000000" }, id))).body.result,
    "ACKNOWLEDGED",
  );
  assert.equal((await reportOutcome(stack, { captureRequestId: id, outcome: "APPROVED" })).status, 200);
  return id;
}

describe("refused before acting: exit 2 with the reason", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "an unknown option",
      ["dlq", "list", "--frobnicate"],
      /Unknown option '--frobnicate'.*dlq list takes: --limit/,
    ],
    [
      "a limit that is not a number",
      ["dlq", "list", "--limit", "abc"],
      /--limit takes a whole number from 1 to 10000, not "abc"/,
    ],
    ["a limit of 0", ["dlq", "list", "--limit", "0"], /--limit takes a whole number/],
    [
      "an unknown state",
      ["captures", "list", "--state", "LOST"],
      /--state takes PENDING, DECIDED, OWED, NOTIFIED, not "LOST"/,
    ],
    ["a time it cannot read", ["captures", "list", "--since", "yesterday"], /--since takes an ISO 8601 time/],
    [
      "two filters that contradict",
      ["captures", "list", "--state", "NOTIFIED", "--owed-longer-than", "5m"],
      /--owed-longer-than goes with --state OWED/,
    ],
    ["recover without a window", ["recover"], /recover needs --since/],
    ["a missing argument", ["captures", "show", PIAID], /captures show needs <PIAID> <captureRequestId>/],
    ["an extra argument", ["dlq", "depth", "now"], /dlq depth takes no arguments, got: now/],
    ["a delete without a reason", ["dlq", "delete", "--message-id", "m-1"], /needs --reason/],
    [
      "a delete naming nothing",
      ["dlq", "delete", "--reason", "because"],
      /needs --message-id, or --piaid with --capture-request-id/,
    ],
    ["an unknown command", ["dlq", "purge"], /no command "dlq purge"/],
    [
      "keys: an unknown option",
      ["keys", "--frobnicate"],
      /Unknown option '--frobnicate'.*keys takes: --keys-dir/,
    ],
    [
      "keys: an unknown environment",
      ["keys", "--env", "staging"],
      /unknown environment staging \(one of dev, sandbox, prod\)/,
    ],
    ["no command", [], /^$/],
  ];
  for (const [what, args, reason] of cases) {
    test(what, async () => {
      const r = await ops(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, reason);
      assert.doesNotMatch(r.stderr, /^target:/m, "refused before resolving the target");
    });
  }

  test("ledger load refuses --env, whatever the file", async () => {
    const r = await ops(["ledger", "load", "infra/local/fixtures/demo-ledger.json"], { env: true });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ledger load works on the local stack only and refuses --env/);
  });

  test("a bad environment name, or two targets at once", async () => {
    const bad = await ops(["dlq", "depth", "--env", "Prod!"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--env takes an environment name/);
    const both = await ops(["dlq", "depth", "--env", ENV]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--env and --stack-file name two different targets/);
  });

  test("every command has --help (exit 0); the overview lists exit codes", async () => {
    const overview = await ops(["--help"]);
    assert.equal(overview.code, 0);
    const names = [...overview.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?)(?= |$)/gm)].map((m) => m[1]!);
    assert.deepEqual(names, [
      "dlq depth",
      "dlq list",
      "dlq delete",
      "dlq replay",
      "captures list",
      "captures show",
      "captures renotify",
      "recover",
      "refunds show",
      "refunds renotify",
      "statements list",
      "statements show",
      "statements reconcile",
      "statements accept",
      "statements export",
      "google echo",
      "ledger load",
      "keys",
    ]);
    assert.match(overview.stdout, /exit codes: 0 done; 1 failed .*\n2 refused before acting/);
    for (const name of names) {
      const help = await ops([...name.split(" "), "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^usage: npm run ops -- ${name}`));
    }
  });
});

describe("targets", () => {
  test("each command prints its target on stderr before acting; --json carries it too", async () => {
    const local = await ops(["dlq", "depth"]);
    assert.equal(local.code, 0);
    assert.match(
      local.stderr,
      new RegExp(
        `^target: local stack \\(${stackFile}\\); tables gsp-${ENV}-ledger, gsp-${ENV}-captures, gsp-${ENV}-refunds, gsp-${ENV}-statements; queues gsp-${ENV}-notifications, gsp-${ENV}-notifications-dlq\\n`,
      ),
    );
    const remote = await ops(["dlq", "depth", "--json"], { env: true });
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(
      remote.stderr,
      new RegExp(
        `^target: environment ${ENV}, account 000000000000, region us-east-1; tables gsp-${ENV}-ledger`,
      ),
    );
    const out = json(remote);
    assert.deepEqual(
      [out.command, out.target.kind, out.target.environment, out.target.account, out.target.region],
      ["dlq depth", "environment", ENV, "000000000000", "us-east-1"],
    );
  });

  test("an environment that cannot be reached: exit 1, naming it", async () => {
    const r = await ops(["dlq", "depth"], { env: `${ENV}x` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach environment ${ENV}x \\(its queues gsp-${ENV}x-…\\)`));
  });

  test("no local stack: exit 1 with a clear word", async () => {
    const r = await ops(["dlq", "depth"], { stackFile: join(dir, "none.json") });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no running local stack described at .*none\.json: start one with `npm start`/);
  });
});

describe("an outage, as the operator sees it", () => {
  let first = "";
  let second = "";
  let malformedId = "";

  test("two notifications exhaust their tries into the DLQ; a poison message sits beside them", async () => {
    google.fail("HTTP_500");
    [first, second] = await Promise.all([approved(), approved()]);
    await until("both in the DLQ", async () => (await dlqDepth()).visible === 2, 60_000);
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: "{not json" }));
    assert.deepEqual(await dlqDepth(), { visible: 3, hidden: 0 });
  });

  test("dlq depth reads the attributes; --json has the numbers", async () => {
    const r = await ops(["dlq", "depth", "--json"]);
    assert.equal(r.code, 0);
    const out = json(r) as unknown as { deadLetter: { waiting: number; inFlight: number } };
    assert.deepEqual([out.deadLetter.waiting, out.deadLetter.inFlight], [3, 0]);
    assert.match((await ops(["dlq", "depth"])).stdout, /^DLQ: 3 waiting, 0 in flight/);
  });

  test("dlq list says how many more there are, and leaves every message visible", async () => {
    const two = await ops(["dlq", "list", "--limit", "2"]);
    assert.equal(two.code, 0);
    assert.equal(two.stdout.trim().split("\n").length, 4, "header, two rows, footer");
    assert.match(two.stdout, /showing 2 of about 3 message\(s\) in the DLQ: --limit 3 shows more\n$/);
    assert.deepEqual(
      await dlqDepth(),
      { visible: 3, hidden: 0 },
      "released at once: the alarm keeps its signal",
    );

    const all = await ops(["dlq", "list", "--json"]);
    const { messages, shown } = json(all) as unknown as {
      messages: {
        messageId: string;
        captureRequestId?: string;
        tries: number;
        lastError?: string;
        malformed: boolean;
      }[];
      shown: number;
    };
    assert.equal(shown, 3);
    const poison = messages.find((m) => m.malformed)!;
    malformedId = poison.messageId;
    const firstRow = messages.find((m) => m.captureRequestId === first)!;
    assert.deepEqual([firstRow.tries, firstRow.lastError], [8, "HTTP 500"]);
    const text = await ops(["dlq", "list"]);
    assert.match(
      text.stdout,
      new RegExp(
        `\\(malformed\\)\\t-\\t\\d+s\\t-\\tnot a notification message: \`dlq delete --message-id ${malformedId} --reason …\``,
      ),
    );
    assert.match(text.stdout, /\n3 message\(s\) in the DLQ\n$/);
    assert.deepEqual(await dlqDepth(), { visible: 3, hidden: 0 });
  });

  test("captures show: the times and why it is stuck", async () => {
    const r = await ops(["captures", "show", PIAID, first]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\n {2}times: created \S+Z, decided \S+Z, notified -\n/);
    assert.match(
      r.stdout,
      new RegExp(
        `where it stands: try 8 failed \\(HTTP 500\\) at \\S+, the last of 8 for its message: it is in the DLQ; fix the cause, then \`dlq replay --capture-request-id ${first}\``,
      ),
    );
    const out = json(await ops(["captures", "show", PIAID, first, "--json"])) as unknown as {
      capture: { amount: string; notification: { state: string } };
      timeline: { createdAtMs: number; decidedAtMs: number; notifiedAtMs?: number };
    };
    assert.equal(out.capture.amount, "1000000");
    assert.equal(out.capture.notification.state, "OWED");
    assert.ok(out.timeline.decidedAtMs >= out.timeline.createdAtMs);
    assert.equal(out.timeline.notifiedAtMs, undefined);
    const missing = await ops(["captures", "show", PIAID, "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no capture nope for InvisiCashIN_INR/);
  });

  test("captures list: notifications owed for longer than N", async () => {
    const r = await ops(["captures", "list", "--owed-longer-than", "0s", "--json"]);
    assert.equal(r.code, 0);
    const out = json(r) as unknown as {
      captures: { captureRequestId: string; state: string }[];
      complete: boolean;
    };
    assert.deepEqual(out.captures.map((c) => c.captureRequestId).sort(), [first, second].sort());
    assert.ok(out.captures.every((c) => c.state === "OWED"));
    assert.equal(out.complete, true);
    const none = json(await ops(["captures", "list", "--owed-longer-than", "1h", "--json"])) as unknown as {
      captures: unknown[];
    };
    assert.equal(none.captures.length, 0);
  });

  test("dlq delete: the poison message, then one settled by hand, each with its reason", async () => {
    const poison = await ops(["dlq", "delete", "--message-id", malformedId, "--reason", "poison: not JSON"]);
    assert.equal(poison.code, 0, poison.stderr);
    assert.match(
      poison.stdout,
      /deleted message \S+ \(malformed\) from the DLQ; reason in the audit line only/,
    );
    const audit = JSON.parse(poison.stderr.split("\n").find((l) => l.startsWith("{"))!);
    assert.deepEqual(
      [audit.message, audit.messageId, audit.reason],
      ["dlq message deleted", malformedId, "poison: not JSON"],
    );
    assert.deepEqual(await dlqDepth(), { visible: 2, hidden: 0 });

    const gone = await ops(["dlq", "delete", "--message-id", malformedId, "--reason", "again"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no message \S+ in the DLQ/);
    assert.deepEqual(await dlqDepth(), { visible: 2, hidden: 0 }, "what it read is put back");

    const byCapture = await ops([
      "dlq",
      "delete",
      "--piaid",
      PIAID,
      "--capture-request-id",
      second,
      "--reason",
      "settled by phone with Google",
    ]);
    assert.equal(byCapture.code, 0);
    assert.match(byCapture.stdout, /reason added to the capture record/);
    const show = await ops(["captures", "show", PIAID, second]);
    assert.match(
      show.stdout,
      /operator notes \(1\):\n {4}\S+ {2}deleted DLQ message \S+: settled by phone with Google/,
    );
    assert.deepEqual(await dlqDepth(), { visible: 1, hidden: 0 });
  });

  test("outside the local stack a change needs --yes when there is no terminal; nothing moves without it", async () => {
    const refused = await ops(["dlq", "replay"], { env: true });
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      new RegExp(`would change environment ${ENV} \\(account 000000000000, region us-east-1\\): pass --yes`),
    );
    const renotify = await ops(["captures", "renotify", PIAID, first], { env: true });
    assert.equal(renotify.code, 2);
    const del = await ops(["dlq", "delete", "--message-id", "m", "--reason", "because"], { env: true });
    assert.equal(del.code, 2);
    assert.deepEqual(await dlqDepth(), { visible: 1, hidden: 0 });
    const dry = await ops(["dlq", "replay", "--dry-run"], { env: true });
    assert.equal(dry.code, 0, "a dry run changes nothing and needs no confirmation");
    assert.match(
      dry.stdout,
      new RegExp(`would replay ${first}\\ndry run: 1 of 1 DLQ message\\(s\\) match; nothing moved`),
    );
  });

  test("dlq replay with --yes: no server-side move task on the emulator, so message by message", async () => {
    google.recover();
    const r = await ops(["dlq", "replay", "--yes", "--json"], { env: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no server-side move task on this queue service: moving message by message/);
    const out = json(r) as unknown as {
      mode: string;
      replayed: { captureRequestId: string }[];
      left: number;
    };
    assert.deepEqual(
      [out.mode, out.replayed.map((m) => m.captureRequestId), out.left],
      ["message-by-message", [first], 0],
    );
    await until(
      "the replayed one delivered",
      async () => (await record(first))?.notification?.state === "NOTIFIED",
    );
    assert.equal(deliveredFor(first), 1);
    assert.deepEqual(await dlqDepth(), { visible: 0, hidden: 0 });
  });

  test("recover: what is owed in the window is re-enqueued, what was delivered is skipped", async () => {
    const dry = await ops(["recover", "--since", "1h", "--dry-run"]);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, new RegExp(`would re-enqueue ${PIAID} ${second} \\(SUCCESS, 8 tries so far\\)`));
    assert.match(
      dry.stdout,
      /dry run: would re-enqueue 1 owed notification\(s\); skipped 1 already delivered; scanned \d+ item\(s\) in 1 page\(s\)/,
    );
    assert.equal(deliveredFor(second), 0);

    const refused = await ops(["recover", "--since", "1h"], { env: true });
    assert.equal(refused.code, 2);
    const r = await ops(["recover", "--since", "1h", "--yes", "--json"], { env: true });
    assert.equal(r.code, 0, r.stderr);
    const out = json(r) as unknown as {
      reenqueued: { captureRequestId: string }[];
      skippedDelivered: number;
      complete: boolean;
    };
    assert.deepEqual(
      [out.reenqueued.map((x) => x.captureRequestId), out.skippedDelivered, out.complete],
      [[second], 1, true],
    );
    await until(
      "the recovered one delivered",
      async () => (await record(second))?.notification?.state === "NOTIFIED",
    );
    assert.equal(deliveredFor(second), 1);
    const again = json(await ops(["recover", "--since", "1h", "--dry-run", "--json"])) as unknown as {
      reenqueued: unknown[];
      skippedDelivered: number;
    };
    assert.deepEqual([again.reenqueued.length, again.skippedDelivered], [0, 2]);
  });

  test("a window that ends before the outage recovers nothing", async () => {
    const r = json(
      await ops(["recover", "--since", "2h", "--until", "1h", "--dry-run", "--json"]),
    ) as unknown as { reenqueued: unknown[]; skippedDelivered: number };
    assert.deepEqual([r.reenqueued.length, r.skippedDelivered], [0, 0]);
  });

  test("captures renotify with --yes sends the stored result again", async () => {
    const r = await ops(["captures", "renotify", PIAID, first, "--yes"], { env: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`enqueued the stored notification of ${first} again \\(requestId crn-\\S+, SUCCESS\\)`),
    );
    await until("delivered again", () => deliveredFor(first) === 2);
  });
});

describe("captures by state", () => {
  test("PENDING from the sweep index, with when it expires; NOTIFIED by a bounded scan", async () => {
    const id = requestId("pending");
    await asynchronousCapture(stack.url, asynchronousCaptureRequest({ amount: "1000000" }, id));
    const pending = json(await ops(["captures", "list", "--state", "PENDING", "--json"])) as unknown as {
      captures: { captureRequestId: string; status: string }[];
      source: string;
    };
    assert.deepEqual(
      pending.captures.map((c) => c.captureRequestId),
      [id],
    );
    assert.match(
      pending.captures[0]!.status,
      /^waiting for the outcome from the integrator's systems; if none comes it expires at \S+ \(in 10m\)/,
    );
    assert.equal(pending.source, "read from the sweep index, no scan");
    const soon = json(await ops(["captures", "list", "--expiring-within", "5m", "--json"])) as unknown as {
      captures: unknown[];
    };
    assert.equal(soon.captures.length, 0);
    const within = json(await ops(["captures", "list", "--expiring-within", "11m", "--json"])) as unknown as {
      captures: unknown[];
    };
    assert.equal(within.captures.length, 1);

    const notified = await ops(["captures", "list", "--state", "NOTIFIED"]);
    assert.equal(notified.code, 0);
    assert.match(notified.stdout, /^PIAID\tcaptureRequestId\tstate\tcreated\tresult\twhere it stands\n/);
    assert.match(notified.stdout, /\n2 capture\(s\) \(scanned \d+ item\(s\) in 1 page\(s\)\)\n$/);
    const bounded = json(
      await ops(["captures", "list", "--state", "NOTIFIED", "--max-items", "1", "--json"]),
    ) as unknown as {
      captures: unknown[];
      complete: boolean;
    };
    assert.deepEqual([bounded.captures.length, bounded.complete], [1, false]);
  });
});

describe("ledger load", () => {
  test("loads into the local stack; a file that is not a fixture is refused", async () => {
    const fixture = join(dir, "extra.json");
    writeFileSync(
      fixture,
      JSON.stringify({
        accounts: [{ accountId: "acct-ops", status: "ACTIVE", currencies: { INR: { balance: "5" } } }],
      }),
    );
    const r = await ops(["ledger", "load", fixture, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([json(r).items, json(r).accounts], [1, 1]);
    writeFileSync(join(dir, "bad.json"), "{");
    const bad = await ops(["ledger", "load", join(dir, "bad.json")]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cannot load .*bad\.json/);
  });
});

describe("statements", () => {
  test("list, show of an unknown one, and the refusals of accept, against the local stack", async () => {
    const list = await ops(["statements", "list", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).statements, []);
    const unknown = await ops(["statements", "show", "InvisiCashIN_INR", "no-such-statement"]);
    assert.equal(unknown.code, 1);
    const noReason = await ops(["statements", "accept", "InvisiCashIN_INR", "s1", "--override"]);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--override needs --reason/);
    const badState = await ops(["statements", "list", "--state", "PAID"]);
    assert.equal(badState.code, 2);
    assert.match(badState.stderr, /--state must be one of/);
  });
});

describe("google echo", () => {
  test("calls Google's echo (the stand-in locally) with our keys: verified, round trip, key ids", async () => {
    const before = stack.google!.echoes.length;
    const ok = await ops(["google", "echo", "--message", "go-live check", "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    const result = JSON.parse(ok.stdout);
    assert.equal(result.ok, true);
    assert.equal(result.piaid, "InvisiCashIN_INR");
    assert.equal(typeof result.roundTripMs, "number");
    assert.match(result.signedWith[0], /^[0-9A-F]{40}$/);
    assert.match(result.encryptedTo[0], /^[0-9A-F]{40}$/);
    assert.deepEqual(stack.google!.echoes.slice(before), ["go-live check"]);
    const unknown = await ops(["google", "echo", "--piaid", "NotOurs_INR"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /FAILED: HTTP 404 with an empty body/);
    assert.match(unknown.stdout, /1\. Google holds our current public key/);
  });
});

describe("refunds", () => {
  test("show a refund with its notification; renotify sends the same one again", async () => {
    const captureId = requestId("ops-refund-capture");
    assert.equal(
      (await capture(stack.url, captureRequest({ amount: "2000000" }, captureId))).body.result,
      "SUCCESS",
    );
    const id = requestId("ops-refund");
    const reply = await refund(stack.url, refundRequest(captureId, "1000000", {}, id));
    assert.equal(reply.body.result, "SUCCESS");
    await until("the refund's notification delivered", () =>
      google.refundNotifications.some((n) => n.request.refundRequestId === id),
    );
    const shown = await ops(["refunds", "show", PIAID, id, "--json"]);
    assert.equal(shown.code, 0, shown.stderr);
    const record = JSON.parse(shown.stdout).refund;
    assert.equal(record.paymentIntegratorRefundId, reply.body.paymentIntegratorRefundId);
    assert.equal(record.captureRequestId, captureId);
    assert.equal(record.amount, "1000000");
    const again = await ops(["refunds", "renotify", PIAID, id]);
    assert.equal(again.code, 0, again.stderr);
    await until(
      "the same notification sent again",
      () => google.refundNotifications.filter((n) => n.request.refundRequestId === id).length === 2,
    );
    const sent = google.refundNotifications.filter((n) => n.request.refundRequestId === id);
    assert.equal(sent[0]!.request.requestHeader.requestId, sent[1]!.request.requestHeader.requestId);
    assert.equal((await ops(["refunds", "show", PIAID, "no-such-refund"])).code, 1);
  });
});
