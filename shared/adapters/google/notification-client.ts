import * as v from "valibot";
import type { DeliveryResult, GoogleNotifier } from "../../domain/notifier.ts";
import {
  type CaptureResultNotificationRequest,
  CaptureResultNotificationResponse,
} from "../../protocol/capture-result-notification.ts";
import type { Keyring } from "../../security/keyring.ts";
import { googleCaller, googlePath } from "./google-client.ts";

export const notificationPath = (paymentIntegratorAccountId: string) =>
  googlePath("captureResultNotification", paymentIntegratorAccountId);

/**
 * Calls Google's captureResultNotification with the envelope (our keys sign, Google's keys
 * encrypt), and accepts only a verified, fresh answer whose result is SUCCESS.
 */
export function googleNotificationClient(options: {
  baseUrl: string;
  keyring: () => Promise<Keyring>;
  timeoutMs: number;
  now?: () => number;
}): GoogleNotifier {
  const call = googleCaller(options);
  return {
    async send(piaid: string, request: CaptureResultNotificationRequest): Promise<DeliveryResult> {
      const answer = await call("captureResultNotification", piaid, request);
      if (!answer.ok) return { ok: false, reason: answer.reason, configuration: answer.configuration };
      if (!v.safeParse(CaptureResultNotificationResponse, answer.body).success) {
        return {
          ok: false,
          reason: "answer is not a captureResultNotification SUCCESS",
          configuration: false,
        };
      }
      return { ok: true };
    },
  };
}
