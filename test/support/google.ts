import { resolve } from "node:path";
import { callIntegrator, type GoogleReply, standInGoogleKeyring } from "../../infra/google/client.ts";
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
  return {
    requestHeader: {
      protocolVersion: { major: 1, minor: 0, revision: 0 },
      requestId: id,
      requestTimestamp: String(Date.now()),
    },
    paymentIntegratorAccountId: PIAID,
    transactionDescription: "Google - Music",
    currencyCode: "INR",
    amount: "728000000",
    captureContext: {},
    googlePaymentToken: "gpt-demo-success",
    ...overrides,
  };
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

/** The body without its responseHeader, which differs between two answers to the same request. */
export const withoutHeader = (body: Record<string, unknown>) => {
  const { responseHeader: _h, ...rest } = body;
  return rest;
};
