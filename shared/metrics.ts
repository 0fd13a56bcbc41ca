/** The EMF metrics the functions emit; the CDK alarms and dashboard read the same names. */
export const METRICS = {
  namespace: "GspIntegrator",
  notifierService: "notifier",
  notificationDelivered: "NotificationDelivered",
  notificationFailed: "NotificationFailed",
  /** Google answered 404 with an empty body: it could not verify us (keys or PIAID). */
  googleVerificationFailed: "GoogleVerificationFailed",
} as const;
