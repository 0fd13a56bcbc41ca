import { randomBytes } from "node:crypto";
import * as openpgp from "openpgp";
import { GOOGLE_MAX_BODY_BYTES } from "../http/limits.ts";
import { CLOCK_SKEW_MS } from "../protocol/common.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { type Keyring, usable } from "./keyring.ts";

/**
 * Bounds on the work an unauthenticated message can cause: everything below happens before a
 * signature is checked, by anyone holding our public key.
 */
export const ENVELOPE_LIMITS = {
  /** A compressed body unpacks to no more than the largest body we read uncompressed: compression buys no work. */
  maxDecompressedBytes: GOOGLE_MAX_BODY_BYTES,
  /** Session-key packets in one message: one per recipient key; Google encrypts to our few keys. */
  maxSessionKeyPackets: 8,
  /** Signatures in one message: Google signs with its few keys (its probes add unknown and expired ones). */
  maxSignatures: 8,
} as const;

/** Inbound ciphers and hashes we accept: the protocol's minimums (README, "Message security"). */
const ACCEPTED_CIPHER = "aes256";
const ACCEPTED_HASHES = new Set<number>([openpgp.enums.hash.sha384, openpgp.enums.hash.sha512]);

const CONFIG: openpgp.Config = {
  ...openpgp.config,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredHashAlgorithm: openpgp.enums.hash.sha384,
  preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed,
  maxDecompressedMessageSize: ENVELOPE_LIMITS.maxDecompressedBytes,
};

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * openpgp picks a signature's hash from its recipients' preferences (the signer's own when there
 * are none) and reads only their primary self-signature for it: this stand-in accepts SHA-384 only,
 * so every signature we make is SHA-384 whatever any real key prefers (checked by gpg in tests).
 */
const SHA384_ONLY = {
  getPrimarySelfSignature: async () => ({ preferredHashAlgorithms: [openpgp.enums.hash.sha384] }),
} as unknown as openpgp.PublicKey;

/** Raised when no usable key of ours can sign or no usable key of Google's can be encrypted to. */
export class CannotSealError extends Error {
  constructor(why: string) {
    super(`cannot seal an answer: ${why}`);
    this.name = "CannotSealError";
  }
}

/** Whether an answer could be sealed at `date`: one key of ours that signs, one of Google's to encrypt to. */
export async function canSeal(keyring: Keyring, date = new Date()): Promise<string | undefined> {
  const [signers, recipients] = await Promise.all([
    usable.toSign(keyring.own, date),
    usable.toEncryptTo(keyring.peer, date),
  ]);
  if (signers.length === 0) return "no key of ours can sign";
  if (recipients.length === 0) return "no peer key can be encrypted to";
  return undefined;
}

/**
 * Signs with every own key usable now and encrypts to every peer key usable now, always SHA-384 and
 * AES-256 whatever the recipient keys prefer; returns the wire body (base64url, unpadded).
 */
export async function seal(json: string, keyring: Keyring, date = new Date()): Promise<string> {
  const [signingKeys, encryptionKeys] = await Promise.all([
    usable.toSign(keyring.own, date),
    usable.toEncryptTo(keyring.peer, date),
  ]);
  if (signingKeys.length === 0 || encryptionKeys.length === 0) {
    throw new CannotSealError((await canSeal(keyring, date)) ?? "keys changed while sealing");
  }
  const message = await openpgp.createMessage({ binary: Buffer.from(json, "utf8"), date });
  // Signed on its own, so the hash is ours: openpgp follows the preferences of the recipients (or of the signer).
  const signed = await openpgp.sign({
    message,
    signingKeys,
    recipientKeys: [SHA384_ONLY],
    date,
    format: "object",
    config: CONFIG,
  } as openpgp.SignOptions & { message: openpgp.Message<Uint8Array>; format: "object" });
  // A session key we choose, so the cipher is AES-256 whatever the recipients prefer.
  const sessionKey = { data: new Uint8Array(randomBytes(32)), algorithm: ACCEPTED_CIPHER } as const;
  const binary = await openpgp.encrypt({
    message: signed,
    encryptionKeys,
    sessionKey,
    date,
    format: "binary",
    config: CONFIG,
  });
  return Buffer.from(binary).toString("base64url");
}

/**
 * Raised when a body cannot be opened. The answer to it is bare and says the same for every cause
 * of one code (the sender is unknown: it must not learn which of our keys exist); `reason` is for
 * our log.
 */
export class EnvelopeError extends ProtocolError {
  readonly reason: string;
  constructor(code: "INVALID_PAYLOAD_ENCRYPTION" | "INVALID_PAYLOAD_SIGNATURE", reason: string) {
    super(code, DESCRIPTIONS[code]);
    this.reason = reason;
  }
}

const DESCRIPTIONS = {
  INVALID_PAYLOAD_ENCRYPTION: "the body is not an OpenPGP message we can decrypt",
  INVALID_PAYLOAD_SIGNATURE: "the body has no valid signature by a trusted key",
} as const;

const encryption = (why: string) => new EnvelopeError("INVALID_PAYLOAD_ENCRYPTION", why);
const signature = (why: string) => new EnvelopeError("INVALID_PAYLOAD_SIGNATURE", why);

/**
 * Opens a wire body: base64url (padded or not) of a binary OpenPGP message, encrypted (AES-256)
 * to one of our keys usable now and signed (SHA-384 or SHA-512) by at least one trusted peer key
 * usable now. Returns the plaintext bytes. The work before the signature is checked is bounded:
 * the body by the edge, session-key decryptions by our key count, decompression by
 * `maxDecompressedBytes`, signature checks by `maxSignatures`.
 */
export async function openMessage(wire: string, keyring: Keyring, date = new Date()): Promise<Uint8Array> {
  const text = wire.trim();
  if (!BASE64URL.test(text)) throw encryption("body is not base64url");
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: Buffer.from(text, "base64url"), config: CONFIG });
  } catch {
    throw encryption("body is not an OpenPGP message");
  }
  const packets = [...message.packets];
  const sessionKeyPackets = packets.filter(
    (p) =>
      p instanceof openpgp.PublicKeyEncryptedSessionKeyPacket ||
      p instanceof openpgp.SymEncryptedSessionKeyPacket,
  );
  if (sessionKeyPackets.length > ENVELOPE_LIMITS.maxSessionKeyPackets) {
    throw encryption(`${sessionKeyPackets.length} session-key packets`);
  }
  const encrypted = packets.filter((p) => p instanceof openpgp.SymEncryptedIntegrityProtectedDataPacket);
  if (encrypted.length !== 1 || packets.length !== sessionKeyPackets.length + 1) {
    throw encryption("not one integrity-protected encrypted packet after the session keys");
  }

  // Only packets addressed by key ID to one of our keys usable now, one per key: no trial decryptions.
  const ours = await usable.decryptionKeyIds(keyring.own, date);
  const addressed = new Map<string, { packet: openpgp.AnyPacket; key: openpgp.PrivateKey }>();
  for (const packet of sessionKeyPackets) {
    const id = (packet as unknown as { publicKeyID?: openpgp.KeyID }).publicKeyID?.toHex();
    const key = id === undefined ? undefined : ours.get(id);
    if (id && key && !addressed.has(id)) addressed.set(id, { packet, key });
  }
  if (addressed.size === 0) throw encryption("not encrypted to a key of ours usable now");
  let sessionKey: openpgp.DecryptedSessionKey | undefined;
  for (const { packet, key } of addressed.values()) {
    const only = new openpgp.PacketList<openpgp.AnyPacket>();
    only.push(packet);
    const message = new openpgp.Message(only);
    const found = await openpgp
      .decryptSessionKeys({ message, decryptionKeys: key, date, config: CONFIG })
      .catch(() => []);
    sessionKey = found[0];
    if (sessionKey) break;
  }
  if (!sessionKey) throw encryption("no session key decrypts with our keys");
  // SEIPDv2 names its cipher in the data packet, SEIPDv1 in the session key.
  const v2Cipher = (encrypted[0] as unknown as { cipherAlgorithm?: number | null }).cipherAlgorithm;
  const cipher = v2Cipher ? openpgp.enums.read(openpgp.enums.symmetric, v2Cipher) : sessionKey.algorithm;
  if (cipher !== ACCEPTED_CIPHER) throw encryption(`session key cipher ${cipher} refused`);

  let opened: Awaited<ReturnType<typeof message.decrypt>>;
  try {
    // Integrity check, then decompression (capped) and the inner packets (no nested compression: openpgp refuses it).
    opened = await message.decrypt(
      undefined,
      undefined,
      [{ data: sessionKey.data, algorithm: cipher }],
      date,
      CONFIG,
    );
  } catch (error) {
    const why = (error as Error).message;
    // The integrity check failed: the message was changed on its way, an authenticity problem.
    if (/modification detected/i.test(why)) throw signature("modified in transit");
    throw encryption(`decryption failed: ${why}`);
  }
  // With no keys, verify() only lists the signatures (each fails at once, nothing hashed): count them first.
  const listed = await opened.verify([], date, CONFIG).catch((error: Error) => {
    throw signature(`unverifiable: ${error.message}`);
  });
  if (listed.length > ENVELOPE_LIMITS.maxSignatures) throw signature(`${listed.length} signatures`);
  if (listed.length === 0) throw signature("unsigned");

  const data = opened.getLiteralData();
  if (!(data instanceof Uint8Array)) throw encryption("literal data is not in memory");
  const listedPackets = new openpgp.PacketList<openpgp.SignaturePacket>();
  for (const { signature } of listed) listedPackets.push(...(await signature).packets);

  const verificationKeys = await usable.toSign(keyring.peer, date);
  // Google's clock may run ahead of ours: a signature dated up to 60 s ahead is not "in the future".
  const { signatures } = await openpgp
    .verify({
      message: await openpgp.createMessage({ binary: data }),
      signature: new openpgp.Signature(listedPackets),
      verificationKeys,
      date: new Date(date.getTime() + CLOCK_SKEW_MS),
      format: "binary",
      config: CONFIG,
    })
    .catch((error: Error) => {
      throw signature(`unverifiable: ${error.message}`);
    });
  const weak: string[] = [];
  for (const result of signatures) {
    if (!(await result.verified.then(Boolean, () => false))) continue;
    const packet = (await result.signature).packets[0] as unknown as { hashAlgorithm: number };
    if (!ACCEPTED_HASHES.has(packet.hashAlgorithm)) {
      weak.push(openpgp.enums.read(openpgp.enums.hash, packet.hashAlgorithm));
      continue;
    }
    // openpgp judges the signer at the signature's date, which the sender chooses: we judge it now.
    const signer = verificationKeys.find((k) => k.getKeys(result.keyID).length > 0);
    if (signer && (await signer.getSigningKey(result.keyID, date).then(Boolean, () => false))) return data;
  }
  throw signature(
    weak.length > 0
      ? `signature hash ${weak.join(", ")} refused`
      : "no valid signature by a trusted key usable now",
  );
}

/** `openMessage`, as text: the bytes must be UTF-8 (never repaired). */
export async function open(wire: string, keyring: Keyring, date = new Date()): Promise<string> {
  return decodeUtf8(await openMessage(wire, keyring, date));
}

/** Strict UTF-8: invalid sequences are an error, not U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
}
