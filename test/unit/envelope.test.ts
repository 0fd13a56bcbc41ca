import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as openpgp from "openpgp";
import { EnvelopeError, open, seal } from "../../shared/security/envelope.ts";
import { CachedKeyring } from "../../shared/security/key-source.ts";
import { generateKeyPair, type Keyring, KeyringError, loadKeyring } from "../../shared/security/keyring.ts";

const gen = (name: string) => generateKeyPair(name, { rsaBits: 2048 });
const [us, google, stranger] = await Promise.all([gen("us"), gen("google"), gen("stranger")]);
const labels = { own: "own", peer: "peer" };
const ours = await loadKeyring({ own: us.privateKey, peer: google.publicKey }, labels);
const googles = await loadKeyring({ own: google.privateKey, peer: us.publicKey }, labels);
const strangers = await loadKeyring({ own: stranger.privateKey, peer: us.publicKey }, labels);

const refuses = async (wire: string, code: string, keyring: Keyring = ours, date?: Date) => {
  await assert.rejects(open(wire, keyring, date), (e: unknown) => {
    assert.ok(e instanceof EnvelopeError, String(e));
    assert.equal(e.code, code);
    return true;
  });
};
const flip = (wire: string, at: number) => {
  const bytes = Buffer.from(wire, "base64url");
  const i = Math.floor(bytes.length * at);
  bytes[i] = (bytes[i] ?? 0) ^ 0x01;
  return bytes.toString("base64url");
};

describe("envelope", () => {
  test("seal → open round trip, SHA-384 signature, AES-256 encryption, unpadded base64url", async () => {
    const wire = await seal('{"a":"ü"}', googles);
    assert.match(wire, /^[A-Za-z0-9_-]+$/);
    assert.equal(await open(wire, ours), '{"a":"ü"}');
    const read = () => openpgp.readMessage({ binaryMessage: Buffer.from(wire, "base64url") });
    const sessionKeys = await openpgp.decryptSessionKeys({ message: await read(), decryptionKeys: ours.own });
    assert.equal(sessionKeys[0]?.algorithm, "aes256");
    const decrypted = await openpgp.decrypt({
      message: await read(),
      decryptionKeys: ours.own,
      verificationKeys: ours.peer,
      format: "binary",
    });
    const signature = await decrypted.signatures[0]!.signature;
    assert.equal(
      (signature.packets[0] as unknown as { hashAlgorithm: number }).hashAlgorithm,
      openpgp.enums.hash.sha384,
    );
  });

  test("padded base64url is accepted too", async () => {
    let wire = await seal("{}", googles);
    while (wire.length % 4 !== 0) wire += "=";
    assert.equal(await open(wire, ours), "{}");
  });

  test("several keys per side: decrypt with any of ours, accept any trusted signer, encrypt to all", async () => {
    const both = await loadKeyring(
      { own: `${us.privateKey}\n${stranger.privateKey}`, peer: `${google.publicKey}\n${stranger.publicKey}` },
      labels,
    );
    assert.equal(both.own.length, 2);
    assert.equal(await open(await seal("{}", strangers), both), "{}");
    assert.equal(await open(await seal("{}", googles), both), "{}");
    const toBoth = await seal("{}", both);
    const googleWithBoth = await loadKeyring(
      { own: google.privateKey, peer: `${us.publicKey}\n${stranger.publicKey}` },
      labels,
    );
    assert.equal(await open(toBoth, googleWithBoth), "{}");
  });

  test("not base64url, or not OpenPGP → INVALID_PAYLOAD_ENCRYPTION", async () => {
    await refuses('{"requestHeader":{}}', "INVALID_PAYLOAD_ENCRYPTION");
    await refuses(
      Buffer.from("hello, this is not a message").toString("base64url"),
      "INVALID_PAYLOAD_ENCRYPTION",
    );
    await refuses("", "INVALID_PAYLOAD_ENCRYPTION");
  });

  test("encrypted to a key we do not hold → INVALID_PAYLOAD_ENCRYPTION", async () => {
    const toStranger = await loadKeyring({ own: google.privateKey, peer: stranger.publicKey }, labels);
    await refuses(await seal("{}", toStranger), "INVALID_PAYLOAD_ENCRYPTION");
  });

  test("unsigned, signed by an unknown key, or tampered → INVALID_PAYLOAD_SIGNATURE", async () => {
    const unsigned = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: "{}" }),
      encryptionKeys: ours.own.map((k) => k.toPublic()),
      format: "binary",
    });
    await refuses(Buffer.from(unsigned).toString("base64url"), "INVALID_PAYLOAD_SIGNATURE");
    await refuses(await seal("{}", strangers), "INVALID_PAYLOAD_SIGNATURE");
    const wire = await seal('{"amount":"1"}', googles);
    await refuses(flip(wire, 0.9), "INVALID_PAYLOAD_SIGNATURE");
    await refuses(flip(wire, 0.7), "INVALID_PAYLOAD_SIGNATURE");
  });

  test("a signature by a trusted key that has since expired → INVALID_PAYLOAD_SIGNATURE", async () => {
    const created = new Date(Date.now() - 10 * 24 * 3600 * 1000);
    const keyFrom = (name: string, days: number) =>
      openpgp.generateKey({
        type: "rsa",
        rsaBits: 2048,
        userIDs: [{ name }],
        date: created,
        keyExpirationTime: days * 24 * 3600,
        format: "armored",
      });
    const [shortLived, integrator] = await Promise.all([
      keyFrom("short-lived google", 5),
      keyFrom("integrator", 365),
    ]);
    const during = new Date(created.getTime() + 24 * 3600 * 1000);
    const signer = await loadKeyring(
      { own: shortLived.privateKey, peer: integrator.publicKey },
      labels,
      during,
    );
    const trusting = await loadKeyring(
      { own: integrator.privateKey, peer: shortLived.publicKey },
      labels,
      during,
    );
    const sealedThen = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: "{}" }),
      encryptionKeys: signer.peer,
      signingKeys: signer.own,
      date: during,
      format: "binary",
    });
    const wire = Buffer.from(sealedThen).toString("base64url");
    assert.equal(await open(wire, trusting, during), "{}");
    await refuses(wire, "INVALID_PAYLOAD_SIGNATURE", trusting, new Date());
  });
});

describe("keyring checks", () => {
  const rejects = (armored: { own: string; peer: string }, pattern: RegExp) =>
    assert.rejects(
      loadKeyring(armored, labels),
      (e: unknown) => e instanceof KeyringError && pattern.test(e.message),
    );

  test("RSA under 2048 bits, or not RSA, is refused", async () => {
    const small = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 1024,
      userIDs: [{ name: "small" }],
      config: { minRSABits: 1024 },
      format: "armored",
    });
    await rejects({ own: us.privateKey, peer: small.publicKey }, /RSA of at least 2048 bits/);
    const ecc = await openpgp.generateKey({
      type: "curve25519",
      userIDs: [{ name: "ecc" }],
      format: "armored",
    });
    await rejects({ own: ecc.privateKey, peer: google.publicKey }, /RSA of at least 2048 bits/);
  });

  test("a key without a separate encryption subkey is refused", async () => {
    const single = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 2048,
      userIDs: [{ name: "one" }],
      subkeys: [],
      format: "armored",
    });
    await rejects({ own: us.privateKey, peer: single.publicKey }, /encryption subkey/);
  });

  test("an expired key is refused; one expiring within 30 days loads with a warning", async () => {
    const old = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 2048,
      userIDs: [{ name: "old" }],
      date: new Date(Date.now() - 3 * 24 * 3600 * 1000),
      keyExpirationTime: 24 * 3600,
      format: "armored",
    });
    await rejects({ own: us.privateKey, peer: old.publicKey }, /has expired/);
    const soon = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 2048,
      userIDs: [{ name: "soon" }],
      keyExpirationTime: 10 * 24 * 3600,
      format: "armored",
    });
    const keyring = await loadKeyring({ own: us.privateKey, peer: soon.publicKey }, labels);
    assert.equal(keyring.warnings.length, 1);
    assert.match(keyring.warnings[0]!, /^peer key [0-9A-F]{40} expires on .*: rotate it\.$/);
  });

  test("a passphrase-protected private key, garbage, or an empty keyring is refused in one sentence", async () => {
    const locked = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 2048,
      userIDs: [{ name: "x" }],
      passphrase: "pw",
      format: "armored",
    });
    await rejects({ own: locked.privateKey, peer: google.publicKey }, /passphrase/);
    await rejects(
      { own: "not a key", peer: google.publicKey },
      /^the own keyring is not armored OpenPGP key material\.$/,
    );
  });
});

describe("cached keyring", () => {
  test("re-reads after the TTL; a failed refresh keeps the keys in hand; a failed first load throws", async () => {
    let clock = Date.now();
    let peer = google.publicKey;
    let broken = false;
    const cache = new CachedKeyring({
      source: {
        description: "memory",
        read: async () => {
          if (broken) throw new Error("secret store unavailable");
          return { own: us.privateKey, peer };
        },
      },
      labels,
      ttlMs: 1000,
      now: () => clock,
    });
    const first = await cache.get();
    assert.equal(first.peer.length, 1);
    peer = `${google.publicKey}\n${stranger.publicKey}`;
    assert.equal((await cache.get()).peer.length, 1, "within the TTL the keys in hand are used");
    clock += 1001;
    assert.equal((await cache.get()).peer.length, 1, "the refresh runs behind the keys in hand");
    await cache.settled();
    assert.equal((await cache.get()).peer.length, 2, "after the TTL the new keyring is used");
    broken = true;
    clock += 1001;
    await cache.get();
    await cache.settled();
    assert.equal((await cache.get()).peer.length, 2, "a failed refresh keeps the keys in hand");
    const cold = new CachedKeyring({
      source: { description: "memory", read: async () => Promise.reject(new Error("nope")) },
      labels,
      ttlMs: 1000,
    });
    await assert.rejects(cold.get(), /nope/);
  });
});
