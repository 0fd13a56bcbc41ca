import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair } from "../../shared/security/keyring.ts";

/** The files of a local keys folder. */
export const KEY_FILES = {
  /** Our private keys (the service decrypts and signs with them). */
  integratorPrivate: "integrator.private.asc",
  /** Our public keys: what Google (or the stand-in) encrypts to and verifies with. */
  integratorPublic: "integrator.public.asc",
  /** Google's public keys the service trusts. Put Google's real public keys here to talk to Google. */
  googlePublic: "google.public.asc",
  /** The stand-in Google's private key, used by `npm run google` and the local Google endpoint. */
  googleStandInPrivate: "google-standin.private.asc",
} as const;

/**
 * Makes sure a keys folder exists with an integrator keypair and a stand-in Google keypair;
 * generates what is missing (RSA 3072 by default, one year). Returns whether it generated anything.
 */
export async function ensureLocalKeys(dir: string, rsaBits: 2048 | 3072 = 3072): Promise<boolean> {
  const path = (f: string) => join(dir, f);
  const haveIntegrator =
    existsSync(path(KEY_FILES.integratorPrivate)) && existsSync(path(KEY_FILES.integratorPublic));
  const haveGoogle = existsSync(path(KEY_FILES.googlePublic));
  if (haveIntegrator && haveGoogle) return false;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (f: string, text: string) => writeFileSync(path(f), text, { mode: 0o600 });
  if (!haveIntegrator) {
    const ours = await generateKeyPair("gsp-integrator (local)", { rsaBits });
    write(KEY_FILES.integratorPrivate, ours.privateKey);
    write(KEY_FILES.integratorPublic, ours.publicKey);
  }
  if (!haveGoogle) {
    const google = await generateKeyPair("Google stand-in (local)", { rsaBits });
    write(KEY_FILES.googleStandInPrivate, google.privateKey);
    write(KEY_FILES.googlePublic, google.publicKey);
  }
  return true;
}
