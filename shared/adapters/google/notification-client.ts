import * as v from "valibot";
import type { DeliveryResult, GoogleNotifier, NotificationMethod } from "../../domain/notifier.ts";
import { CaptureResultNotificationResponse } from "../../protocol/capture-result-notification.ts";
import { CLOCK_SKEW_MS } from "../../protocol/common.ts";
import { open, seal } from "../../security/envelope.ts";
import type { Keyring } from "../../security/keyring.ts";

export const notificationPath = (
  paymentIntegratorAccountId: string,
  method: NotificationMethod = "captureResultNotification",
) => `/secure-serving/gsp/v1/${method}/${encodeURIComponent(paymentIntegratorAccountId)}`;

/**
 * Calls Google's notification methods (captureResultNotification, refundResultNotification) with the
 * envelope (our keys sign, Google's keys encrypt), and accepts only a verified, fresh answer whose
 * result is SUCCESS (both methods answer the same way).
 */
export function googleNotificationClient(options: {
  baseUrl: string;
  keyring: () => Promise<Keyring>;
  timeoutMs: number;
  now?: () => number;
}): GoogleNotifier {
  const now = options.now ?? Date.now;
  return {
    async send(method, piaid, request): Promise<DeliveryResult> {
      const keyring = await options.keyring();
      const fail = (reason: string, configuration = false): DeliveryResult => ({
        ok: false,
        reason,
        configuration,
      });
      let res: Response;
      try {
        res = await fetch(new URL(notificationPath(piaid, method), options.baseUrl), {
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
          true,
        );
      }
      if (res.status !== 200) return fail(`HTTP ${res.status}${await errorCode(text, keyring)}`);
      let answer: unknown;
      try {
        answer = JSON.parse(await open(text, keyring));
      } catch (error) {
        return fail(`answer not verifiable: ${(error as Error).message}`);
      }
      const parsed = v.safeParse(CaptureResultNotificationResponse, answer);
      if (!parsed.success) return fail(`answer is not a ${method} SUCCESS`);
      const stamp = Number(parsed.output.responseHeader.responseTimestamp);
      if (Math.abs(stamp - now()) > CLOCK_SKEW_MS)
        return fail("answer's responseTimestamp is not within 60 s of our clock");
      return { ok: true };
    },
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
