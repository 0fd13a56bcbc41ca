import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as openpgp from "openpgp";
import { armoredBlocks, generateKeyPair } from "../../shared/security/keyring.ts";

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

/** What a keys folder holds after `ensureLocalKeys`, and what it had to write. */
export interface LocalKeys {
  dir: string;
  /** One sentence per file written by this call (empty when nothing was missing). */
  written: string[];
  /** The stand-in Google can run: its private key is here and google.public.asc trusts it. */
  standIn: boolean;
  /** Why there is no stand-in Google, when there is none. */
  noStandInBecause?: string;
}

/** A keys folder that cannot be completed without losing or guessing a key. */
export class LocalKeysError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalKeysError";
  }
}

async function readKeys(path: string, kind: "private" | "public"): Promise<openpgp.Key[]> {
  const blocks = armoredBlocks(readFileSync(path, "utf8"));
  try {
    if (blocks.length === 0) throw new Error("no armored block");
    const keys = await Promise.all(
      blocks.map((armoredKeys) =>
        kind === "private" ? openpgp.readPrivateKeys({ armoredKeys }) : openpgp.readKeys({ armoredKeys }),
      ),
    );
    return keys.flat();
  } catch {
    throw new LocalKeysError(`${path} is not armored OpenPGP ${kind} key material.`);
  }
}

const armoredPublic = (keys: openpgp.Key[]) => keys.map((k) => k.toPublic().armor()).join("\n");

/**
 * Completes a local keys folder without ever replacing a file in it: generates only the keypairs
 * of which neither half is there (RSA 3072 by default, one year), derives a missing public half
 * from its private key, and tells whether a stand-in Google can run (its private key is here and
 * google.public.asc trusts it). A public key without its private key is refused, not replaced.
 */
export async function ensureLocalKeys(dir: string, rsaBits: 2048 | 3072 = 3072): Promise<LocalKeys> {
  const path = (f: string) => join(dir, f);
  const has = (f: string) => existsSync(path(f));
  const written: string[] = [];
  const write = (f: string, text: string, why: string) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path(f), text, { mode: 0o600, flag: "wx" }); // wx: never over an existing file
    written.push(`${f} (${why})`);
  };

  if (has(KEY_FILES.integratorPrivate)) {
    if (!has(KEY_FILES.integratorPublic)) {
      const own = await readKeys(path(KEY_FILES.integratorPrivate), "private");
      write(
        KEY_FILES.integratorPublic,
        armoredPublic(own),
        `the public half of ${KEY_FILES.integratorPrivate}`,
      );
    }
  } else if (has(KEY_FILES.integratorPublic)) {
    throw new LocalKeysError(
      `${path(KEY_FILES.integratorPublic)} is there without ${KEY_FILES.integratorPrivate}: put the private key back, or move the public key away to have a new integrator keypair generated.`,
    );
  } else {
    const ours = await generateKeyPair("gsp-integrator (local)", { rsaBits });
    write(KEY_FILES.integratorPrivate, ours.privateKey, "a new integrator private key");
    write(KEY_FILES.integratorPublic, ours.publicKey, "its public half");
  }

  if (has(KEY_FILES.googleStandInPrivate)) {
    const standIn = await readKeys(path(KEY_FILES.googleStandInPrivate), "private");
    if (!has(KEY_FILES.googlePublic)) {
      write(
        KEY_FILES.googlePublic,
        armoredPublic(standIn),
        `the stand-in Google's public key, from ${KEY_FILES.googleStandInPrivate}`,
      );
      return { dir, written, standIn: true };
    }
    const trusted = new Set(
      (await readKeys(path(KEY_FILES.googlePublic), "public")).map((k) => k.getFingerprint()),
    );
    if (standIn.every((k) => trusted.has(k.getFingerprint()))) return { dir, written, standIn: true };
    return {
      dir,
      written,
      standIn: false,
      noStandInBecause: `${KEY_FILES.googlePublic} does not hold the key of ${KEY_FILES.googleStandInPrivate} (it holds Google's)`,
    };
  }
  if (has(KEY_FILES.googlePublic)) {
    return {
      dir,
      written,
      standIn: false,
      noStandInBecause: `${KEY_FILES.googlePublic} is there without ${KEY_FILES.googleStandInPrivate}, so it is taken to be Google's`,
    };
  }
  const google = await generateKeyPair("Google stand-in (local)", { rsaBits });
  write(KEY_FILES.googleStandInPrivate, google.privateKey, "a new stand-in Google private key");
  write(KEY_FILES.googlePublic, google.publicKey, "its public half, trusted as Google's");
  return { dir, written, standIn: true };
}
