import * as openpgp from "openpgp";

/**
 * One side's keys for the envelope: its own private keys (decrypt with any, sign with all) and
 * its peer's public keys (encrypt to all, accept a signature from any). Several at once on both
 * sides is what lets keys rotate with no outage.
 */
export interface Keyring {
  own: openpgp.PrivateKey[];
  peer: openpgp.Key[];
  /** Key IDs (primary and subkeys) of `own`, to tell "encrypted to a key we don't hold" apart. */
  ownKeyIds: Set<string>;
  /** Expiry warnings found when the keyring was loaded (within 30 days). */
  warnings: string[];
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

const MIN_RSA_BITS = 2048;
const WARN_BEFORE_EXPIRY_MS = 30 * 24 * 3600 * 1000;

/** Checks one key as the protocol requires; throws a one-sentence KeyringError, returns warnings. */
async function checkKey(key: openpgp.Key, label: string, now: Date): Promise<string[]> {
  const name = `${label} key ${key.getFingerprint().toUpperCase()}`;
  const { algorithm, bits } = key.getAlgorithmInfo();
  if (!algorithm.startsWith("rsa") || (bits ?? 0) < MIN_RSA_BITS) {
    throw new KeyringError(
      `${name} is ${algorithm} ${bits ?? "?"}-bit; the protocol requires RSA of at least ${MIN_RSA_BITS} bits.`,
    );
  }
  const expires = await key.getExpirationTime();
  if (expires === null || (expires instanceof Date && expires.getTime() <= now.getTime())) {
    throw new KeyringError(`${name} has expired or has no valid self-signature.`);
  }
  let encryptionKey: openpgp.Key | openpgp.Subkey;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now);
  } catch {
    throw new KeyringError(`${name} has no valid encryption subkey.`);
  }
  if (encryptionKey.getKeyID().equals(key.getKeyID())) {
    throw new KeyringError(
      `${name} encrypts with its primary key; the protocol requires a separate encryption subkey.`,
    );
  }
  if (key.isPrivate() && !(key as openpgp.PrivateKey).isDecrypted()) {
    throw new KeyringError(
      `${name} is protected by a passphrase; store it unprotected in the secret store instead.`,
    );
  }
  if (expires instanceof Date && expires.getTime() - now.getTime() < WARN_BEFORE_EXPIRY_MS) {
    return [`${name} expires on ${expires.toISOString()}: rotate it.`];
  }
  return [];
}

/**
 * Armored blocks in a text, in order. openpgp reads only the first armored block of a text, and
 * operators build keyrings by concatenating .asc files, so each block is read on its own.
 */
export function armoredBlocks(text: string): string[] {
  return (
    text.match(
      /-----BEGIN PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----/g,
    ) ?? []
  );
}

/** Reads and checks armored keyrings (each text may hold several keys, in one block or several). */
export async function loadKeyring(
  armored: { own: string; peer: string },
  labels: { own: string; peer: string },
  now = new Date(),
): Promise<Keyring> {
  const read = async <T>(what: string, text: string, f: (block: string) => Promise<T[]>): Promise<T[]> => {
    const blocks = armoredBlocks(text);
    if (blocks.length === 0)
      throw new KeyringError(`the ${what} keyring is not armored OpenPGP key material.`);
    try {
      return (await Promise.all(blocks.map(f))).flat();
    } catch {
      throw new KeyringError(`the ${what} keyring is not armored OpenPGP key material.`);
    }
  };
  const own = await read(labels.own, armored.own, (armoredKeys) => openpgp.readPrivateKeys({ armoredKeys }));
  const peer = await read(labels.peer, armored.peer, (armoredKeys) => openpgp.readKeys({ armoredKeys }));
  const warnings: string[] = [];
  for (const k of own) warnings.push(...(await checkKey(k, labels.own, now)));
  for (const k of peer) warnings.push(...(await checkKey(k, labels.peer, now)));
  const ownKeyIds = new Set(
    own.flatMap((k) => [k.getKeyID(), ...k.getSubkeys().map((s) => s.getKeyID())]).map((id) => id.toHex()),
  );
  return { own, peer, ownKeyIds, warnings };
}

/** A new RSA keypair with a separate encryption subkey, preferring AES-256 and SHA-384. */
export async function generateKeyPair(
  name: string,
  options: { rsaBits?: 2048 | 3072 | 4096; validDays?: number } = {},
) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "rsa",
    rsaBits: options.rsaBits ?? 3072,
    userIDs: [{ name }],
    keyExpirationTime: (options.validDays ?? 365) * 24 * 3600,
    format: "armored",
    config: {
      preferredHashAlgorithm: openpgp.enums.hash.sha384,
      preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
    },
  });
  return { privateKey, publicKey };
}
