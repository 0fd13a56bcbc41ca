import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { echoBody } from "../../infra/google/client.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { echo, googleKeyring, type Reply, requestId, withoutHeader } from "../support/google.ts";
import { capturedLogs } from "../support/log-capture.ts";
import { allSecrets, leaks } from "../support/secrets.ts";
import { startTestStack } from "../support/stack.ts";
import {
  buildWire,
  type Case,
  demoEchoRequestArb,
  ECHO_MESSAGE_LIMIT,
  type Edit,
  echoDeepEditArb,
  echoEditArb,
  echoHostileEditsArb,
  REQUEST_ID,
  valueAt,
} from "./arbitraries.ts";
import { answerChecks } from "./stack-checks.ts";

/**
 * echo over HTTP, through the envelope, on the real local stack: generated and mutated requests sealed
 * as Google, malformed JSON inside a valid envelope, corrupted wire bodies. Whatever arrives: never a
 * 5xx; every error is a documented ErrorResponse with its table status; a 200 answers the clientMessage
 * exactly as received with a serverMessage of ours; no table is ever touched; no clientMessage (some
 * carry customer tokens, as a probe may) reaches a log line.
 */
const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const google = await googleKeyring();
const SECRETS = allSecrets();
const SERVER_MESSAGE = /^gsp-integrator echo-[A-Za-z0-9_-]{12}$/;
stack.dynamodbCommands.length = 0;

const serverMessages = new Set<string>();
/** clientMessages distinctive enough to look for in the logs (as JSON writes them there). */
const distinctive = new Set<string>();
function bookEcho(plaintext: string, answer: Record<string, unknown>) {
  const sent = JSON.parse(plaintext) as Record<string, unknown>;
  const m = sent.clientMessage;
  if (typeof m === "string" && m.length >= 12 && new Set(m).size >= 6) {
    distinctive.add(JSON.stringify(m).slice(1, -1).slice(0, 64));
  }
  assert.deepEqual(Object.keys(withoutHeader(answer)).sort(), ["clientMessage", "serverMessage"]);
  assert.equal(answer.clientMessage, sent.clientMessage, "the clientMessage as received");
  assert.match(String(answer.serverMessage), SERVER_MESSAGE);
  assert.ok(!serverMessages.has(answer.serverMessage as string), "each call has its own serverMessage");
  serverMessages.add(answer.serverMessage as string);
}
const checks = answerChecks({ google, secrets: SECRETS, onOk: bookEcho, echoed: ["clientMessage"] });

async function sendAsGoogle(c: Case): Promise<Reply> {
  const json = buildWire(c, Date.now());
  const reply = await echo(stack.url, json);
  checks.assertVerifiedAnswer(json, reply);
  if (c.edits.length === 0)
    assert.equal(reply.status, 200, `a well-formed echo is answered: ${json.slice(0, 300)}`);
  return reply;
}

describe("echo fuzz over HTTP: requests sealed as Google", () => {
  test("any clientMessage (customer tokens among them) as it is, or with 1-3 fields removed, retyped, nulled, added or skewed", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoEchoRequestArb(() => requestId("fz-echo")),
      edits: fc.oneof(
        { weight: 2, arbitrary: fc.constant<Edit[]>([]) },
        { weight: 3, arbitrary: fc.array(echoEditArb({ maxString: 300 }), { minLength: 1, maxLength: 3 }) },
      ),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 150 },
    );
  });

  test(`clientMessage up to and past ${ECHO_MESSAGE_LIMIT} UTF-16 units in 1-4 byte characters: answered exactly when within, else INVALID_FIELD_VALUE naming it`, async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoEchoRequestArb(() => requestId("fz-echo-long")),
      edits: echoHostileEditsArb(),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const reply = await sendAsGoogle(c);
        const sent = JSON.parse(buildWire(c, 0)) as Record<string, unknown>;
        const id = valueAt(sent, ["requestHeader", "requestId"]) as string;
        const message = sent.clientMessage as string;
        if (!REQUEST_ID.test(id)) {
          assert.equal(reply.body.errorResponseCode, "INVALID_FIELD_VALUE");
          assert.match(String(reply.body.errorDescription), /^requestHeader\.requestId /);
        } else if (message.length > ECHO_MESSAGE_LIMIT) {
          assert.deepEqual(
            [reply.status, reply.body.errorResponseCode, reply.body.errorDescription],
            [400, "INVALID_FIELD_VALUE", "clientMessage is too long"],
          );
        } else assert.deepEqual([reply.status, reply.body.clientMessage], [200, message]);
      }),
      { numRuns: 40 },
    );
  });

  test("members nested up to 5000 levels deep", async () => {
    const caseArb: fc.Arbitrary<Case> = fc.record({
      base: demoEchoRequestArb(() => requestId("fz-echo-deep")),
      edits: fc.tuple(echoDeepEditArb(5000)),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await sendAsGoogle(c);
      }),
      { numRuns: 15 },
    );
  });
});

describe("echo fuzz over HTTP: strict JSON inside a valid envelope", () => {
  /** A change to the JSON text itself: a character put in, one taken out, the text cut short. */
  const textEditArb = fc.oneof(
    fc.record({
      at: fc.noBias(fc.nat()),
      put: fc.constantFrom(
        ",",
        "'",
        "}",
        "{",
        "]",
        '"',
        "\\",
        "/*c*/",
        "//",
        "NaN",
        "\u0000",
        "\uFEFF",
        " ",
        "\n",
        "x",
      ),
    }),
    fc.record({ at: fc.noBias(fc.nat()), drop: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ cut: fc.noBias(fc.nat()) }),
  );
  test("malformed JSON is refused with INVALID_DECRYPTED_REQUEST, never repaired; what still parses is answered as parsed", async () => {
    await fc.assert(
      fc.asyncProperty(
        demoEchoRequestArb(() => requestId("fz-echo-text")),
        textEditArb,
        async (base, e) => {
          const valid = buildWire({ base, edits: [] }, Date.now());
          const edited =
            "cut" in e
              ? valid.slice(0, e.cut % valid.length)
              : "put" in e
                ? valid.slice(0, e.at % valid.length) + e.put + valid.slice(e.at % valid.length)
                : valid.slice(0, e.at % valid.length) + valid.slice((e.at % valid.length) + e.drop);
          // What goes on the wire is UTF-8: a surrogate pair cut in half arrives as U+FFFD.
          const text = Buffer.from(edited, "utf8").toString("utf8");
          const reply = await echo(stack.url, text);
          checks.assertVerifiedAnswer(text, reply);
          let parses = true;
          try {
            JSON.parse(text);
          } catch {
            parses = false;
          }
          if (!parses) {
            assert.deepEqual(
              [reply.status, reply.body.errorResponseCode],
              [400, "INVALID_DECRYPTED_REQUEST"],
              text,
            );
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe("echo fuzz over HTTP: corrupted wire bodies", () => {
  test("bit flips, truncation, trailing bytes, random bytes (padded or not), garbage text, empty", async () => {
    await checks.assertCorruptedWires(
      stack.url,
      "/v1/echo",
      fc.constant(undefined),
      () => JSON.stringify(echoBody("probe", requestId("fz-echo-wire"))),
      40,
    );
  });
});

describe("echo fuzz over HTTP: no storage, no secrets in logs", () => {
  test("no table was touched by any of the calls; answers and errors both happened", (t) => {
    assert.deepEqual(stack.dynamodbCommands, [], "echo touches no table");
    // Bounds well under what the runs give (random mixes vary): enough of each for the checks above to mean something.
    assert.ok(checks.tally.ok > 50 && checks.tally.errors.size > 3, checks.summary());
    t.diagnostic(`echo fuzz: ${checks.summary()}`);
  });

  test("no clientMessage, token, VPA or OTP appears in this file's log lines", () => {
    assert.ok(capturedLogs.length > 200, `captured ${capturedLogs.length} lines`);
    assert.deepEqual(leaks(capturedLogs, SECRETS), []);
    assert.ok(distinctive.size >= 10, `${distinctive.size} distinctive clientMessages looked for`);
    assert.deepEqual(leaks(capturedLogs, [...distinctive]), []);
  });
});
