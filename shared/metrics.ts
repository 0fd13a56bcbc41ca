/** The EMF metrics the functions emit; the CDK alarms and dashboard read the same names. */
export const METRICS = {
  namespace: "GspIntegrator",
  notifierService: "notifier",
  sweeperService: "sweeper",
  envelopeService: "envelope",
  reconcilerService: "reconciler",
  notificationDelivered: "NotificationDelivered",
  notificationFailed: "NotificationFailed",
  /** Google answered 404 with an empty body: it could not verify us (keys or PIAID). */
  googleVerificationFailed: "GoogleVerificationFailed",
  /** Age of the oldest record the sweeper must act on (a PENDING capture past its deadline, an owed notification). */
  oldestDueRecordAgeSeconds: "OldestDueRecordAgeSeconds",
  /** Inbound requests refused by the envelope (401 signature / 400 encryption): a spike means a key mismatch with Google. */
  envelopeRejected: "EnvelopeRejected",
  /** Keys in a keyring skipped as unusable (expired, revoked, too weak, no encryption subkey). */
  keysSkipped: "KeysSkipped",
  /** Days until the soonest-expiring usable key of either side expires. */
  keyDaysToExpiry: "KeyDaysToExpiry",
  /** A remittance statement that did not reconcile exactly, or whose details were refused: an operator must look. */
  statementNotReconciled: "StatementNotReconciled",
} as const;
