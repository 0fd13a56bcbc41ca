import * as openpgp from "openpgp";

export const DAY_SECONDS = 24 * 3600;

/** An armored RSA 2048 keypair made at `created` and valid `validSeconds` from then (expired, soon-expiring, short-lived keys). */
export const keyMadeAt = (
  name: string,
  created: Date,
  validSeconds: number,
  config?: openpgp.PartialConfig,
) =>
  openpgp.generateKey({
    type: "rsa",
    rsaBits: 2048,
    userIDs: [{ name }],
    date: created,
    keyExpirationTime: validSeconds,
    format: "armored",
    ...(config && { config }),
  });
