/** Builds capture requests as Google sends them, and posts them to a stack. */
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

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export async function post(url: string, path: string, body: unknown): Promise<Reply> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, text };
}

export const capture = (url: string, body: unknown) => post(url, "/v1/capture", body);

/** The body without its responseHeader, which differs between two answers to the same request. */
export const withoutHeader = (body: Record<string, unknown>) => {
  const { responseHeader: _h, ...rest } = body;
  return rest;
};
