import * as openpgp from "openpgp";
import { ProtocolError } from "../protocol/errors.ts";
import type { Keyring } from "./keyring.ts";

/** What the protocol asks of every body: AES-256 encryption, SHA-384 signatures. */
const CONFIG: openpgp.PartialConfig = {
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredHashAlgorithm: openpgp.enums.hash.sha384,
};

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Signs with every own key, encrypts to every peer key, and returns the wire body (base64url, unpadded). */
export async function seal(json: string, keyring: Keyring): Promise<string> {
  const message = await openpgp.createMessage({ binary: Buffer.from(json, "utf8") });
  const binary = await openpgp.encrypt({
    message,
    encryptionKeys: keyring.peer,
    signingKeys: keyring.own,
    format: "binary",
    config: CONFIG,
  });
  return Buffer.from(binary).toString("base64url");
}

/** Raised when a body cannot be opened; the answer to it is bare, since its sender is unknown. */
export class EnvelopeError extends ProtocolError {}

const encryption = (why: string) => new EnvelopeError("INVALID_PAYLOAD_ENCRYPTION", why);
const signature = (why: string) => new EnvelopeError("INVALID_PAYLOAD_SIGNATURE", why);

/**
 * Opens a wire body: base64url (padded or not) of a binary OpenPGP message, encrypted to one of
 * our keys and signed by at least one trusted peer key. Returns the plaintext.
 */
export async function open(wire: string, keyring: Keyring, date = new Date()): Promise<string> {
  const text = wire.trim();
  if (!BASE64URL.test(text)) throw encryption("body is not base64url");
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: Buffer.from(text, "base64url") });
  } catch {
    throw encryption("body is not an OpenPGP message");
  }
  if (!message.getEncryptionKeyIDs().some((id) => keyring.ownKeyIds.has(id.toHex()))) {
    throw encryption("message is not encrypted to a key we hold");
  }
  let result: openpgp.DecryptMessageResult;
  try {
    result = await openpgp.decrypt({
      message,
      decryptionKeys: keyring.own,
      verificationKeys: keyring.peer,
      expectSigned: true,
      format: "binary",
      date,
    });
  } catch (error) {
    const why = (error as Error).message;
    if (/session key/i.test(why)) throw encryption("message cannot be decrypted with our keys");
    // Unsigned, signed by a key we do not trust, or modified in transit.
    throw signature("message has no valid signature from a trusted key");
  }
  // openpgp judges a signature by its signer's validity when the signature says it was made, a
  // time the sender chooses: a trusted key that has since expired must not sign today's requests.
  if (!(await someSignerValidAt(result.signatures, keyring.peer, date))) {
    throw signature("message has no valid signature from a trusted key");
  }
  return Buffer.from(result.data as Uint8Array).toString("utf8");
}

async function someSignerValidAt(
  signatures: openpgp.DecryptMessageResult["signatures"],
  peers: openpgp.Key[],
  date: Date,
) {
  for (const { keyID, verified } of signatures) {
    const valid = await verified.then(
      () => true,
      () => false,
    );
    if (!valid) continue;
    for (const key of peers) {
      const ok = await key.getSigningKey(keyID, date).then(
        () => true,
        () => false,
      );
      if (ok) return true;
    }
  }
  return false;
}
