import * as openpgp from "openpgp";

/**
 * One side's keys for the envelope: its own private keys and its peer's public keys, each checked
 * on load. Whether a key may be used is judged again at each use (see `usable`), so a key that
 * expires or is revoked while a process holds it simply stops being used.
 */
export interface Keyring {
  own: openpgp.PrivateKey[];
  peer: openpgp.Key[];
  /** Expiry warnings found when the keyring was loaded (within 30 days). */
  warnings: string[];
  /** Keys left out on load, each with its one-sentence reason. */
  skipped: SkippedKey[];
}

export interface SkippedKey {
  side: string;
  /** Absent when the armored block itself could not be read. */
  fingerprint?: string;
  reason: string;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

const MIN_RSA_BITS = 2048;
const DAY_MS = 24 * 3600 * 1000;
const WARN_BEFORE_EXPIRY_MS = 30 * DAY_MS;

/** What an operator needs to know of one key; never any secret material. */
export interface KeyStatus {
  side: string;
  fingerprint: string;
  algorithm: string;
  bits: number | undefined;
  /** ISO date, or "never". */
  expires: string;
  /** Undefined when the key is usable; otherwise why not. */
  unusable?: string;
}

/** Why a key cannot serve the protocol at `now`, or undefined when it can. */
async function unusableReason(key: openpgp.Key, now: Date): Promise<string | undefined> {
  const { algorithm, bits } = key.getAlgorithmInfo();
  if (!algorithm.startsWith("rsa") || (bits ?? 0) < MIN_RSA_BITS) {
    return `is ${algorithm} ${bits ?? "?"}-bit; the protocol requires RSA of at least ${MIN_RSA_BITS} bits.`;
  }
  if (await key.isRevoked(undefined, undefined, now).catch(() => false)) return "is revoked.";
  const expires = await key.getExpirationTime().catch(() => null);
  if (expires === null || (expires instanceof Date && expires.getTime() <= now.getTime())) {
    return "has expired or has no valid self-signature.";
  }
  let encryptionKey: openpgp.Key | openpgp.Subkey;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now);
  } catch {
    return "has no valid encryption subkey.";
  }
  if (encryptionKey.getKeyID().equals(key.getKeyID())) {
    return "encrypts with its primary key; the protocol requires a separate encryption subkey.";
  }
  if (!(await key.getSigningKey(undefined, now).then(Boolean, () => false))) return "cannot sign.";
  if (key.isPrivate() && !(key as openpgp.PrivateKey).isDecrypted()) {
    return "is protected by a passphrase; store it unprotected in the secret store instead.";
  }
  return undefined;
}

async function statusOf(key: openpgp.Key, side: string, now: Date): Promise<KeyStatus> {
  const { algorithm, bits } = key.getAlgorithmInfo();
  const expires = await key.getExpirationTime().catch(() => null);
  const unusable = await unusableReason(key, now);
  return {
    side,
    fingerprint: key.getFingerprint().toUpperCase(),
    algorithm,
    bits,
    expires: expires instanceof Date ? expires.toISOString() : expires === Infinity ? "never" : "invalid",
    ...(unusable && { unusable }),
  };
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

/** Every key of an armored keyring with its status; a block that cannot be read is reported, not thrown. */
async function readSide<T extends openpgp.Key>(
  side: string,
  text: string,
  read: (armoredKeys: string) => Promise<T[]>,
  now: Date,
): Promise<{ keys: { key: T; status: KeyStatus }[]; unreadable: SkippedKey[] }> {
  const blocks = armoredBlocks(text);
  if (blocks.length === 0) throw new KeyringError(`the ${side} keyring is not armored OpenPGP key material.`);
  const keys: { key: T; status: KeyStatus }[] = [];
  const unreadable: SkippedKey[] = [];
  for (const block of blocks) {
    const read_ = await read(block).catch(() => undefined);
    if (!read_) {
      unreadable.push({ side, reason: "an armored block is not readable OpenPGP key material." });
      continue;
    }
    for (const key of read_) keys.push({ key, status: await statusOf(key, side, now) });
  }
  return { keys, unreadable };
}

const readBoth = (armored: { own: string; peer: string }, labels: { own: string; peer: string }, now: Date) =>
  Promise.all([
    readSide(labels.own, armored.own, (armoredKeys) => openpgp.readPrivateKeys({ armoredKeys }), now),
    readSide(labels.peer, armored.peer, (armoredKeys) => openpgp.readKeys({ armoredKeys }), now),
  ]);

/** The status of every key of both keyrings, for operators (`ops keys`). */
export async function inspectKeyring(
  armored: { own: string; peer: string },
  labels: { own: string; peer: string },
  now = new Date(),
): Promise<{ keys: KeyStatus[]; unreadable: SkippedKey[] }> {
  const [own, peer] = await readBoth(armored, labels, now);
  return {
    keys: [...own.keys, ...peer.keys].map((k) => k.status),
    unreadable: [...own.unreadable, ...peer.unreadable],
  };
}

/**
 * Reads armored keyrings (each text may hold several keys, in one block or several) key by key:
 * a key that cannot serve (expired, revoked, too weak, no encryption subkey…) is skipped and
 * reported; only a side left with no usable key fails, in one sentence.
 */
export async function loadKeyring(
  armored: { own: string; peer: string },
  labels: { own: string; peer: string },
  now = new Date(),
): Promise<Keyring> {
  const [own, peer] = await readBoth(armored, labels, now);
  const warnings: string[] = [];
  const skipped: SkippedKey[] = [];
  const keep = <T extends openpgp.Key>(side: {
    keys: { key: T; status: KeyStatus }[];
    unreadable: SkippedKey[];
  }) => {
    skipped.push(...side.unreadable);
    const kept: T[] = [];
    for (const { key, status } of side.keys) {
      const name = `${status.side} key ${status.fingerprint}`;
      if (status.unusable) {
        skipped.push({
          side: status.side,
          fingerprint: status.fingerprint,
          reason: `${name} ${status.unusable}`,
        });
        continue;
      }
      kept.push(key);
      const expires = Date.parse(status.expires);
      if (expires - now.getTime() < WARN_BEFORE_EXPIRY_MS)
        warnings.push(`${name} expires on ${status.expires}: rotate it.`);
    }
    return kept;
  };
  const keyring = { own: keep(own), peer: keep(peer), warnings, skipped };
  for (const [label, keys] of [
    [labels.own, keyring.own],
    [labels.peer, keyring.peer],
  ] as const) {
    if (keys.length > 0) continue;
    const reasons = skipped.filter((s) => s.side === label).map((s) => s.reason);
    throw new KeyringError(`the ${label} keyring has no usable key: ${reasons.join(" ")}`);
  }
  return keyring;
}

/** Days until the soonest expiry among the keyring's keys (undefined when none expires). */
export async function daysToSoonestExpiry(keyring: Keyring, now = new Date()): Promise<number | undefined> {
  const times = await Promise.all(
    [...keyring.own, ...keyring.peer].map((k) => k.getExpirationTime().catch(() => null)),
  );
  const soonest = Math.min(...times.map((t) => (t instanceof Date ? t.getTime() : Infinity)));
  return Number.isFinite(soonest) ? Math.floor((soonest - now.getTime()) / DAY_MS) : undefined;
}

const can = (p: Promise<unknown>) =>
  p.then(
    () => true,
    () => false,
  );

/**
 * The instants at which a key's usability can change: the creation and expiry of the key, its subkeys and
 * their self-signatures. Between two of them the answer of openpgp's validity checks stays the same (a
 * revocation only arrives with a new keyring, hence new key objects).
 */
async function changeInstants(keys: openpgp.Key[]): Promise<number[]> {
  const instants: number[] = [];
  const add = (t: Date | number | null | undefined) => {
    const ms = t instanceof Date ? t.getTime() : t;
    if (typeof ms === "number" && Number.isFinite(ms)) instants.push(ms);
  };
  for (const key of keys) {
    add(key.getCreationTime());
    add(await key.getExpirationTime().catch(() => null));
    for (const user of key.users) for (const sig of user.selfCertifications) add(sig.created);
    for (const subkey of key.getSubkeys()) {
      add(subkey.getCreationTime());
      add(await subkey.getExpirationTime().catch(() => null));
      for (const sig of subkey.bindingSignatures) add(sig.created);
    }
  }
  return instants;
}

/** Answers about a set of keys, each kept for the span of time in which it cannot change. */
const answers = new WeakMap<object, Map<string, { from: number; until: number; value: Promise<unknown> }>>();

async function judged<T>(keys: openpgp.Key[], what: string, date: Date, judge: () => Promise<T>): Promise<T> {
  const at = date.getTime();
  const byWhat = answers.get(keys) ?? new Map();
  answers.set(keys, byWhat);
  const known = byWhat.get(what);
  if (known && at >= known.from && at < known.until) return known.value as Promise<T>;
  const value = judge();
  const instants = await changeInstants(keys);
  const from = Math.max(Number.NEGATIVE_INFINITY, ...instants.filter((t) => t <= at));
  const until = Math.min(Number.POSITIVE_INFINITY, ...instants.filter((t) => t > at));
  byWhat.set(what, { from, until, value });
  return value;
}

/**
 * The keys that can do `what` at `date`: expiry and revocation judged then, not at load. openpgp's
 * checks verify self-signatures; their answer is kept until the next instant it could change, so a
 * request does not repeat them (a key that expires stops being used at that very instant).
 */
export const usable = {
  toSign<T extends openpgp.Key>(keys: T[], date: Date): Promise<T[]> {
    return judged(keys, "sign", date, async () => {
      const ok = await Promise.all(keys.map((k) => can(k.getSigningKey(undefined, date))));
      return keys.filter((_, i) => ok[i]);
    });
  },
  toEncryptTo<T extends openpgp.Key>(keys: T[], date: Date): Promise<T[]> {
    return judged(keys, "encrypt", date, async () => {
      const ok = await Promise.all(keys.map((k) => can(k.getEncryptionKey(undefined, date))));
      return keys.filter((_, i) => ok[i]);
    });
  },
  /** Key IDs (hex) of our encryption (sub)keys valid at `date`, each with the key that holds it. */
  decryptionKeyIds(keys: openpgp.PrivateKey[], date: Date): Promise<Map<string, openpgp.PrivateKey>> {
    return judged(keys, "decrypt", date, async () => {
      const ids = new Map<string, openpgp.PrivateKey>();
      for (const key of keys) {
        for (const part of [key, ...key.getSubkeys()]) {
          const id = part.getKeyID();
          if (await can(key.getEncryptionKey(id, date))) ids.set(id.toHex(), key);
        }
      }
      return ids;
    });
  },
};

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
