import { CLOCK_SKEW_MS } from "../../protocol/common.ts";
import { open, seal } from "../../security/envelope.ts";
import type { Keyring } from "../../security/keyring.ts";

/** Google's endpoint of one method for one PIAID (gsp-protocol.md, "Who calls whom"). */
export const googlePath = (method: string, paymentIntegratorAccountId: string) =>
  `/secure-serving/gsp/v1/${method}/${encodeURIComponent(paymentIntegratorAccountId)}`;

export type GoogleCallResult =
  /** A verified, fresh 200 answer, parsed as JSON (the caller checks its shape). */
  | { ok: true; body: Record<string, unknown> }
  /**
   * `configuration`: Google answered 404 with an empty body, it could not verify us (keys or PIAID).
   * `refused`: the answer came but cannot be trusted or read (unsigned, unknown signer, stale, not JSON).
   */
  | { ok: false; reason: string; configuration: boolean; refused: boolean };

export type CallGoogle = (
  method: string,
  paymentIntegratorAccountId: string,
  body: Record<string, unknown>,
) => Promise<GoogleCallResult>;

/** Where Google is, the keys to seal and open with, how long to wait for an answer. */
export interface GoogleCallerOptions {
  baseUrl: string;
  keyring: () => Promise<Keyring>;
  timeoutMs: number;
  now?: () => number;
}

/**
 * Calls one of Google's methods with the envelope (our keys sign, Google's keys encrypt) and accepts
 * only a verified 200 answer whose responseTimestamp is within ±60 s of our clock.
 */
export function googleCaller(options: GoogleCallerOptions): CallGoogle {
  const now = options.now ?? Date.now;
  return async (method, piaid, request) => {
    const keyring = await options.keyring();
    const fail = (reason: string, kind: "configuration" | "refused" | "transient" = "transient") => ({
      ok: false as const,
      reason,
      configuration: kind === "configuration",
      refused: kind === "refused",
    });
    let res: Response;
    try {
      res = await fetch(new URL(googlePath(method, piaid), options.baseUrl), {
        method: "POST",
        headers: { "content-type": "application/octet-stream; charset=utf-8" },
        body: await seal(JSON.stringify(request), keyring),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      return fail(
        (error as Error).name === "TimeoutError"
          ? `timeout after ${options.timeoutMs} ms`
          : `network: ${(error as Error).message}`,
      );
    }
    const text = await res.text().catch(() => "");
    if (res.status === 404 && text.trim() === "") {
      return fail(
        "HTTP 404 with an empty body: Google could not verify us (signing key, encryption key or PIAID)",
        "configuration",
      );
    }
    if (res.status !== 200) return fail(`HTTP ${res.status}${await errorCode(text, keyring)}`);
    let answer: unknown;
    try {
      answer = JSON.parse(await open(text, keyring));
    } catch (error) {
      return fail(`answer not verifiable: ${(error as Error).message}`, "refused");
    }
    if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
      return fail("answer is not a JSON object", "refused");
    }
    const stamp = Number(
      (answer as { responseHeader?: { responseTimestamp?: unknown } }).responseHeader?.responseTimestamp,
    );
    if (!(Math.abs(stamp - now()) <= CLOCK_SKEW_MS)) {
      return fail("answer's responseTimestamp is not within 60 s of our clock", "refused");
    }
    return { ok: true, body: answer as Record<string, unknown> };
  };
}

/** An error answer's code, when it can be read (sealed or bare), for the delivery history. */
async function errorCode(text: string, keyring: Keyring): Promise<string> {
  for (const read of [() => JSON.parse(text), async () => JSON.parse(await open(text, keyring))]) {
    try {
      const code = (await read())?.errorResponseCode;
      if (typeof code === "string") return ` ${code}`;
    } catch {}
  }
  return "";
}
