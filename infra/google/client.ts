import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CLOCK_SKEW_MS } from "../../shared/protocol/common.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import { type Keyring, loadKeyring } from "../../shared/security/keyring.ts";
import { KEY_FILES } from "../local/keys.ts";

/**
 * Talks to the integrator as Google does: seals the request with Google's key to the integrator's
 * keys, opens and verifies the answer, and checks its responseTimestamp. With no keyring it
 * speaks plain JSON (local development only).
 */
export interface GoogleReply {
  status: number;
  body: Record<string, unknown>;
  /** Whether the answer came signed and encrypted (bare answers are for unverifiable requests). */
  sealed: boolean;
  text: string;
}

export class ResponseTimestampError extends Error {}

/** The stand-in Google's view of a local keys folder: its private key, the integrator's public keys. */
export async function standInGoogleKeyring(keysDir: string): Promise<Keyring> {
  const [own, peer] = await Promise.all([
    readFile(join(keysDir, KEY_FILES.googleStandInPrivate), "utf8"),
    readFile(join(keysDir, KEY_FILES.integratorPublic), "utf8"),
  ]);
  return loadKeyring({ own, peer }, { own: "Google stand-in private", peer: "integrator public" });
}

export interface CallOptions {
  keyring: Keyring | undefined;
  /** Send this text as the plaintext instead of JSON.stringify(body) (to test bodies that are not JSON). */
  rawPlaintext?: string;
  now?: () => number;
}

export async function callIntegrator(
  baseUrl: string,
  path: string,
  body: unknown,
  options: CallOptions,
): Promise<GoogleReply> {
  const plaintext = options.rawPlaintext ?? JSON.stringify(body);
  const wire = options.keyring ? await seal(plaintext, options.keyring) : plaintext;
  // Relative to the base, so a stage path survives (https://….execute-api….amazonaws.com/live + /v1/echo).
  const res = await fetch(new URL(path.replace(/^\//, ""), baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`), {
    method: "POST",
    headers: {
      "content-type": options.keyring ? "application/octet-stream; charset=utf-8" : "application/json",
    },
    body: wire,
  });
  const text = await res.text();
  const sealed = (res.headers.get("content-type") ?? "").startsWith("application/octet-stream");
  const json = sealed && options.keyring ? await open(text, options.keyring) : text;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(json);
  } catch {}
  const stamp = Number(
    (parsed.responseHeader as { responseTimestamp?: string } | undefined)?.responseTimestamp,
  );
  const now = (options.now ?? Date.now)();
  if (text.length > 0 && !(Math.abs(stamp - now) <= CLOCK_SKEW_MS)) {
    throw new ResponseTimestampError(`responseTimestamp ${stamp} is not within 60 s of ${now}`);
  }
  return { status: res.status, body: parsed, sealed, text: json };
}

let sequence = 0;
/** A requestId as Google makes them: unique, of the allowed characters. */
export const newRequestId = (prefix = "g") =>
  `${prefix}-${Date.now().toString(36)}-${process.pid}-${++sequence}`;

/** What both money-moving calls carry: the header, the PIAID, the description and the amount. */
export interface PaymentArgs {
  piaid: string;
  amount: string;
  currency: string;
  requestId?: string;
  description?: string;
}

export interface CaptureArgs extends PaymentArgs {
  googlePaymentToken?: string;
  mandateId?: string;
  upcomingTransactionNotificationId?: string;
  authenticationRequestId?: string;
  otp?: { sendOtpRequestId: string; otp: string };
}

export interface AsynchronousCaptureArgs extends PaymentArgs {
  /** UPI: the customer's VPA; otherwise `googlePaymentToken`. */
  vpa?: string;
  googlePaymentToken?: string;
}

/** A request header as Google sends it: protocol 1.0.0, a requestId, the time of sending. */
export const requestHeader = (requestId = newRequestId()) => ({
  protocolVersion: { major: 1, minor: 0, revision: 0 },
  requestId,
  requestTimestamp: String(Date.now()),
});

/** The members both calls share, as Google sends them. */
const payment = (a: PaymentArgs) => ({
  requestHeader: requestHeader(a.requestId),
  paymentIntegratorAccountId: a.piaid,
  transactionDescription: a.description ?? "Google - Music",
  currencyCode: a.currency,
  amount: a.amount,
});

/** A capture request body as Google builds it. */
export function captureBody(a: CaptureArgs): Record<string, unknown> {
  const fop = a.mandateId
    ? a.upcomingTransactionNotificationId
      ? {
          mandateWithNotificationDetails: {
            mandateId: a.mandateId,
            upcomingTransactionNotificationId: a.upcomingTransactionNotificationId,
          },
        }
      : { mandateDetails: { mandateId: a.mandateId } }
    : { googlePaymentToken: a.googlePaymentToken };
  return {
    ...payment(a),
    captureContext: {},
    ...fop,
    ...(a.authenticationRequestId && { authenticationRequestId: a.authenticationRequestId }),
    ...(a.otp && { otpVerification: a.otp }),
  };
}

export interface RefundArgs {
  piaid: string;
  captureRequestId: string;
  refundAmount: string;
  currency: string;
  requestId?: string;
}

/** A refund request body as Google builds it: part or all of the capture `captureRequestId`. */
export const refundBody = (a: RefundArgs): Record<string, unknown> => ({
  requestHeader: requestHeader(a.requestId),
  paymentIntegratorAccountId: a.piaid,
  captureRequestId: a.captureRequestId,
  currencyCode: a.currency,
  refundAmount: a.refundAmount,
});

/** An echo request body: Google's connectivity check (and ours, the other way). */
export const echoBody = (clientMessage: string, requestId?: string): Record<string, unknown> => ({
  requestHeader: requestHeader(requestId),
  clientMessage,
});

/** An asynchronousCapture request body as Google builds it: UPI by VPA, or a tokenized instrument. */
export function asynchronousCaptureBody(a: AsynchronousCaptureArgs): Record<string, unknown> {
  return {
    ...payment(a),
    ...(a.vpa
      ? { upiDetails: { vpa: a.vpa } }
      : { tokenizedInstrumentDetails: { googlePaymentToken: a.googlePaymentToken } }),
  };
}
