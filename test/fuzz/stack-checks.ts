import assert from "node:assert/strict";
import { ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import type { LocalStack } from "../../infra/local/stack.ts";
import { ErrorResponseCode } from "../../shared/protocol/errors.ts";
import { balances } from "../support/ledger.ts";
import { DEMO } from "./arbitraries.ts";

/** What the fuzz tests over HTTP (capture, asynchronousCapture, outcome) read from a running stack and check every answer against. */

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ENVELOPE_CODES = ["INVALID_PAYLOAD_ENCRYPTION", "INVALID_PAYLOAD_SIGNATURE"];
export const SEALED = "application/octet-stream; charset=utf-8";
export const BARE = "application/json; charset=utf-8";

/** Records in the stack's captures table. */
export async function countRecords(stack: LocalStack): Promise<number> {
  let count = 0;
  let start: ScanCommandOutput["LastEvaluatedKey"];
  for (let page = 0; page < 1000; page++) {
    const out = await stack.dynamodb.send(
      new ScanCommand({
        TableName: stack.config.tables.captures,
        Select: "COUNT",
        ConsistentRead: true,
        ...(start && { ExclusiveStartKey: start }),
      }),
    );
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
    if (!start) return count;
  }
  throw new Error("captures table scan did not end");
}

/** Every balance of every demo account, as "acct CUR" → micros. */
export async function demoBalances(stack: LocalStack): Promise<Record<string, bigint>> {
  const all: Record<string, bigint> = {};
  for (const { accountId } of DEMO.accounts) {
    for (const [currency, micros] of Object.entries(await balances(stack, accountId))) {
      all[`${accountId} ${currency}`] = micros;
    }
  }
  return all;
}

/** A protocol ErrorResponse: a documented code with its table status, our identifier, a description, a fresh header. */
export function assertErrorResponse(
  status: number,
  body: Record<string, unknown>,
  tally?: Map<string, number>,
) {
  const code = body.errorResponseCode;
  assert.ok(
    typeof code === "string" && Object.hasOwn(ErrorResponseCode, code),
    `errorResponseCode ${code} is documented`,
  );
  assert.equal(
    status,
    ErrorResponseCode[code as keyof typeof ErrorResponseCode],
    `${code} travels with its status`,
  );
  assert.match(String(body.paymentIntegratorErrorIdentifier), UUID);
  assert.equal(typeof body.errorDescription, "string");
  assert.match(
    String((body.responseHeader as { responseTimestamp?: unknown })?.responseTimestamp),
    /^\d{13}$/,
  );
  tally?.set(code as string, (tally.get(code as string) ?? 0) + 1);
}

/** POSTs a raw body (no envelope of ours): what any client on the network can send. */
export async function postRaw(
  url: string,
  path: string,
  body: string | Buffer,
  headers: Record<string, string | undefined>,
) {
  const res = await fetch(new URL(path, url), {
    method: "POST",
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    body,
  });
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** A request or answer, shortened for an assertion message. */
export const brief = (text: string, max = 400) => (text.length > max ? `${text.slice(0, max)}…` : text);
