import { resolve } from "node:path";
import {
  asynchronousCaptureBody,
  callIntegrator,
  captureBody,
  type GoogleReply,
  refundBody,
  standInGoogleKeyring,
} from "../../infra/google/client.ts";
import { ensureLocalKeys } from "../../infra/local/keys.ts";
import type { Keyring } from "../../shared/security/keyring.ts";

/** Builds capture requests as Google sends them, and posts them to a stack through the envelope. */
let sequence = 0;

export const PIAID = "InvisiCashIN_INR";

export function requestId(prefix = "req"): string {
  sequence += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${sequence}`;
}

export function captureRequest(
  overrides: Record<string, unknown> = {},
  id = requestId(),
): Record<string, unknown> {
  const body = captureBody({
    piaid: PIAID,
    amount: "728000000",
    currency: "INR",
    googlePaymentToken: "gpt-demo-success",
    requestId: id,
  });
  return { ...body, ...overrides };
}

export type Reply = GoogleReply;

/** The suite's keys (global setup), or a folder made for this process when a file runs alone. */
let keysDir: Promise<string> | undefined;
export function testKeysDir(): Promise<string> {
  keysDir ??= (async () => {
    const dir = process.env.TEST_KEYS_DIR ?? resolve(import.meta.dirname, "../../.local/test-keys");
    await ensureLocalKeys(dir, 2048);
    return dir;
  })();
  return keysDir;
}

let keyring: Promise<Keyring> | undefined;
/** The stand-in Google's keys: its private key, the integrator's public key. */
export const googleKeyring = () => {
  keyring ??= testKeysDir().then(standInGoogleKeyring);
  return keyring;
};

/** Posts as Google: the body (or, if a string, that plaintext) signed and encrypted, the answer opened and verified. */
export async function post(url: string, path: string, body: unknown): Promise<Reply> {
  const options = { keyring: await googleKeyring(), ...(typeof body === "string" && { rawPlaintext: body }) };
  return callIntegrator(url, path, body, options);
}

export const capture = (url: string, body: unknown) => post(url, "/v1/capture", body);
export const refund = (url: string, body: unknown) => post(url, "/v1/refund", body);
export const echo = (url: string, body: unknown) => post(url, "/v1/echo", body);

/** A refund of `captureRequestId` as Google sends it; `overrides` replace members. */
export function refundRequest(
  captureRequestId: string,
  refundAmount: string,
  overrides: Record<string, unknown> = {},
  id = requestId("refund"),
): Record<string, unknown> {
  return {
    ...refundBody({ piaid: PIAID, captureRequestId, refundAmount, currency: "INR", requestId: id }),
    ...overrides,
  };
}

/** The body without its responseHeader, which differs between two answers to the same request. */
export const withoutHeader = (body: Record<string, unknown>) => {
  const { responseHeader: _h, ...rest } = body;
  return rest;
};

/** An asynchronousCapture body as Google sends it (UPI by default). */
export function asynchronousCaptureRequest(
  overrides: Record<string, unknown> = {},
  id = requestId("async"),
): Record<string, unknown> {
  const body = asynchronousCaptureBody({
    piaid: PIAID,
    amount: "728000000",
    currency: "INR",
    vpa: "customer@demobank",
    requestId: id,
  });
  return { ...body, ...overrides };
}

export const asynchronousCapture = (url: string, body: unknown) => post(url, "/v1/asynchronousCapture", body);

/** POSTs a raw body (no envelope of ours, headers as given): what any client on the network can send. */
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

export type RawReply = Awaited<ReturnType<typeof postRaw>>;

/** Reports what the customer did, as the integrator's own systems do (internal route, token, loopback). */
export async function reportOutcome(
  stack: { url: string; outcomeToken: string },
  body: Record<string, unknown>,
  token = stack.outcomeToken,
) {
  const res = await fetch(`${stack.url}/internal/v1/captureOutcome`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ paymentIntegratorAccountId: PIAID, ...body }),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text || "{}") as Record<string, unknown> };
}

/** Waits until `condition` holds, checking as things happen, bounded (the failure says what was awaited). */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25)); // poll interval of an observable condition
  }
}
