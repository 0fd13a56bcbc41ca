import * as v from "valibot";
import type { DeliveryResult, GoogleNotifier, NotificationMethod } from "../../domain/notifier.ts";
import { CaptureResultNotificationResponse } from "../../protocol/capture-result-notification.ts";
import { type GoogleCallerOptions, googleCaller, googlePath } from "./google-client.ts";

export const notificationPath = (
  paymentIntegratorAccountId: string,
  method: NotificationMethod = "captureResultNotification",
) => googlePath(method, paymentIntegratorAccountId);

/**
 * Calls Google's notification methods (captureResultNotification, refundResultNotification) with the
 * envelope (our keys sign, Google's keys encrypt), and accepts only a verified, fresh answer whose
 * result is SUCCESS (both methods answer the same way).
 */
export function googleNotificationClient(options: GoogleCallerOptions): GoogleNotifier {
  const call = googleCaller(options);
  return {
    async send(method, piaid, request): Promise<DeliveryResult> {
      const answer = await call(method, piaid, request);
      if (!answer.ok) return { ok: false, reason: answer.reason, configuration: answer.configuration };
      if (!v.safeParse(CaptureResultNotificationResponse, answer.body).success) {
        return { ok: false, reason: `answer is not a ${method} SUCCESS`, configuration: false };
      }
      return { ok: true };
    },
  };
}
