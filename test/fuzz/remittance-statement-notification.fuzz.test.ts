import assert from "node:assert/strict";
import { test } from "node:test";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { buildStatement, statementNotificationBody } from "../../infra/local/google-statements.ts";
import type { LocalStack } from "../../infra/local/stack.ts";
import { PIAID, post, requestId } from "../support/google.ts";
import { startTestStack } from "../support/stack.ts";
import { assertErrorResponse, BARE, brief, ENVELOPE_CODES, postRaw, SEALED } from "./stack-checks.ts";

/**
 * remittanceStatementNotification under hostile input: sealed requests with members removed, replaced
 * by wrong types, odd strings and numbers, and raw bodies that are no envelope at all. Never a 5xx,
 * always a documented ErrorResponse, and a refused request stores nothing.
 */
const stack: LocalStack = await startTestStack(import.meta.filename, { sweepIntervalMs: 0 });
const ROUTE = "/v1/remittanceStatementNotification";
const accepted = new Set<string>();

async function storedStatementIds(): Promise<Set<string>> {
  const out = await stack.dynamodb.send(
    new ScanCommand({ TableName: stack.config.tables.statements, ConsistentRead: true }),
  );
  return new Set((out.Items ?? []).map((i) => i.statementId!.S!));
}

const valid = () => {
  const now = Date.now();
  const s = buildStatement({
    piaid: PIAID,
    statementId: requestId("fz"),
    currencyCode: "INR",
    fromMs: now - 86_400_000,
    toMs: now,
    captures: [],
    refunds: [],
  });
  return statementNotificationBody(s) as unknown as Record<string, unknown>;
};

const odd = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    "",
    "-1",
    "1e3",
    "99999999999999999999",
    "9223372036854775808",
    "-9223372036854775809",
    "０",
    "INR",
    "usd",
  ),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);
const PATHS = [
  ["paymentIntegratorAccountId"],
  ["remittanceStatementSummary"],
  ["remittanceStatementSummary", "statementDate"],
  ["remittanceStatementSummary", "billingPeriod"],
  ["remittanceStatementSummary", "billingPeriod", "startDate"],
  ["remittanceStatementSummary", "billingPeriod", "endDate"],
  ["remittanceStatementSummary", "dateDue"],
  ["remittanceStatementSummary", "currencyCode"],
  ["remittanceStatementSummary", "totalDueByIntegrator"],
  ["remittanceStatementSummary", "remittanceInstructions"],
  ["remittanceStatementSummary", "remittanceInstructions", "memoLineId"],
  ["requestHeader", "requestId"],
  ["requestHeader", "protocolVersion"],
];

function mutate(body: Record<string, unknown>, path: string[], value: unknown, remove: boolean) {
  const copy = structuredClone(body);
  let node = copy as Record<string, unknown>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string, unknown>;
  if (remove) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
  return copy;
}

test("sealed, mutated notifications: a documented answer every time, never a 5xx; refused ones store nothing", async () => {
  const tally = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...PATHS), odd, fc.boolean(), async (path, value, remove) => {
      const body = mutate(valid(), path, value, remove);
      const reply = await post(stack.url, ROUTE, body);
      assert.ok(reply.status < 500, `${reply.status} for ${brief(JSON.stringify(body))}`);
      if (reply.status === 200) {
        assert.equal(reply.body.result, "ACCEPTED");
        accepted.add(String((body.requestHeader as { requestId: string }).requestId));
      } else {
        assertErrorResponse(reply.status, reply.body, tally);
      }
    }),
    { numRuns: 60 },
  );
  assert.deepEqual(await storedStatementIds(), accepted, "exactly the accepted statements are stored");
  assert.ok((tally.get("INVALID_FIELD_VALUE") ?? 0) > 0 && (tally.get("MISSING_REQUIRED_FIELD") ?? 0) > 0);
});

test("bodies that are no envelope: bare envelope errors, nothing stored", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 200 })),
      async (text) => {
        const reply = await postRaw(stack.url, ROUTE, text, { "content-type": SEALED });
        const what = `${reply.status} ${reply.contentType} ${brief(reply.text)} for ${brief(JSON.stringify(text))}`;
        assert.ok(reply.status < 500, what);
        assert.notEqual(reply.status, 200, what);
        assert.equal(reply.contentType, BARE, `bare: ${what}`);
        const body = JSON.parse(reply.text) as Record<string, unknown>;
        assertErrorResponse(reply.status, body);
        assert.ok(ENVELOPE_CODES.includes(body.errorResponseCode as string), `an envelope error: ${what}`);
      },
    ),
    { numRuns: 40 },
  );
  assert.deepEqual(await storedStatementIds(), accepted);
});
