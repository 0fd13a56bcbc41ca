import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import * as openpgp from "openpgp";
import { CannotSealError, canSeal, EnvelopeError, open, seal } from "../../shared/security/envelope.ts";
import { CachedKeyring } from "../../shared/security/key-source.ts";
import {
  generateKeyPair,
  type Keyring,
  KeyringError,
  loadKeyring,
  usable,
} from "../../shared/security/keyring.ts";
import { DAY_SECONDS, keyMadeAt } from "../support/keys.ts";

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
    const [shortLived, integrator] = await Promise.all([
      keyMadeAt("short-lived google", created, 5 * DAY_SECONDS),
      keyMadeAt("integrator", created, 365 * DAY_SECONDS),
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
    const old = await keyMadeAt("old", new Date(Date.now() - 3 * DAY_SECONDS * 1000), DAY_SECONDS);
    await rejects({ own: us.privateKey, peer: old.publicKey }, /has expired/);
    const soon = await keyMadeAt("soon", new Date(), 10 * DAY_SECONDS);
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

const DAY = 24 * 3600 * 1000;
const KEY_BYTES = { aes128: 16, aes256: 32, tripledes: 24, cast5: 16 } as const;
const tenDaysAgo = new Date(Date.now() - 10 * DAY);
const [expired, weakPrefs] = await Promise.all([
  keyMadeAt("expired google", tenDaysAgo, 5 * DAY_SECONDS),
  keyMadeAt("google preferring AES-128 and SHA-256", new Date(), 365 * DAY_SECONDS, {
    preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes128,
    preferredHashAlgorithm: openpgp.enums.hash.sha256,
  }),
]);
const readPrivate = (armoredKey: string) => openpgp.readPrivateKey({ armoredKey });
const asMessage = async (binary: Uint8Array) => openpgp.readMessage({ binaryMessage: binary });

/** A message to our key with the given signatures (detached ones appended) and encryption settings. */
async function craft(options: {
  text?: string;
  signers?: { key: openpgp.PrivateKey; date?: Date; hash?: number }[];
  cipher?: "aes128" | "aes256" | "tripledes" | "cast5";
  compression?: number;
}): Promise<string> {
  const text = options.text ?? "{}";
  // Signatures ahead of the literal data (the prefix form): each by its own key, date and hash.
  const packets = new openpgp.PacketList<openpgp.AnyPacket>();
  for (const { key, date, hash } of options.signers ?? []) {
    const detached = await openpgp.sign({
      message: await openpgp.createMessage({ binary: Buffer.from(text) }),
      signingKeys: key,
      detached: true,
      format: "object",
      ...(date && { date }),
      ...(hash && { config: { preferredHashAlgorithm: hash } }),
    });
    packets.push(...detached.packets);
  }
  packets.push(...(await openpgp.createMessage({ binary: Buffer.from(text) })).packets);
  const message = new openpgp.Message(packets);
  const cipher = options.cipher ?? "aes256";
  const binary = await openpgp.encrypt({
    message,
    encryptionKeys: ours.own.map((k) => k.toPublic()),
    format: "binary",
    config: {
      preferredCompressionAlgorithm: options.compression ?? openpgp.enums.compression.uncompressed,
    },
    // A session key of our choosing: the recipient's preferences would otherwise pick the cipher.
    sessionKey: { data: new Uint8Array(randomBytes(KEY_BYTES[cipher])), algorithm: cipher },
  });
  return Buffer.from(binary).toString("base64url");
}

describe("envelope: algorithms both ways", () => {
  test("inbound: a session key other than AES-256 → 400 INVALID_PAYLOAD_ENCRYPTION", async () => {
    const signers = [{ key: googles.own[0]! }];
    assert.equal(await open(await craft({ signers, cipher: "aes256" }), ours), "{}");
    for (const cipher of ["aes128", "tripledes", "cast5"] as const) {
      await refuses(await craft({ signers, cipher }), "INVALID_PAYLOAD_ENCRYPTION");
    }
  });

  test("inbound: signatures by SHA-384 and SHA-512 pass; SHA-256, SHA-224 and SHA-1 → 401", async () => {
    const key = googles.own[0]!;
    for (const hash of [openpgp.enums.hash.sha384, openpgp.enums.hash.sha512]) {
      assert.equal(await open(await craft({ signers: [{ key, hash }] }), ours), "{}");
    }
    for (const hash of [openpgp.enums.hash.sha256, openpgp.enums.hash.sha224, openpgp.enums.hash.sha1]) {
      await refuses(await craft({ signers: [{ key, hash }] }), "INVALID_PAYLOAD_SIGNATURE");
    }
  });

  test("outbound: AES-256 and SHA-384 even to (and from) keys that prefer AES-128 and SHA-256", async () => {
    const toWeak = await loadKeyring({ own: weakPrefs.privateKey, peer: weakPrefs.publicKey }, labels);
    const weakGoogle = await readPrivate(weakPrefs.privateKey);
    const wire = Buffer.from(await seal("{}", toWeak), "base64url");
    const [sessionKey] = await openpgp.decryptSessionKeys({
      message: await asMessage(wire),
      decryptionKeys: weakGoogle,
    });
    assert.equal(sessionKey?.algorithm, "aes256");
    const { signatures } = await openpgp.decrypt({
      message: await asMessage(wire),
      decryptionKeys: weakGoogle,
      format: "binary",
    });
    const packet = (await signatures[0]!.signature).packets[0] as unknown as { hashAlgorithm: number };
    assert.equal(packet.hashAlgorithm, openpgp.enums.hash.sha384);
  });
});

describe("envelope: Google's probes", () => {
  test("trusted + unknown + expired signers pass; unknown + expired only → 401", async () => {
    const expiredKey = await readPrivate(expired.privateKey);
    const whileValid = new Date(tenDaysAgo.getTime() + DAY);
    const trusting = await loadKeyring(
      { own: us.privateKey, peer: `${google.publicKey}\n${expired.publicKey}\n${weakPrefs.publicKey}` },
      labels,
    );
    assert.equal(trusting.peer.length, 2, "the expired key is skipped on load");
    const unknown = { key: strangers.own[0]! };
    const old = { key: expiredKey, date: whileValid };
    const trusted = { key: googles.own[0]! };
    assert.equal(await open(await craft({ signers: [unknown, old, trusted] }), trusting), "{}");
    assert.equal(await open(await craft({ signers: [old, trusted, unknown] }), trusting), "{}");
    await refuses(await craft({ signers: [unknown, old] }), "INVALID_PAYLOAD_SIGNATURE", trusting);
    await refuses(await craft({ signers: [] }), "INVALID_PAYLOAD_SIGNATURE", trusting);
  });

  test("a signature dated up to 60 s ahead of our clock passes; 2 minutes ahead → 401", async () => {
    const key = googles.own[0]!;
    const ahead = (ms: number) => craft({ signers: [{ key, date: new Date(Date.now() + ms) }] });
    assert.equal(await open(await ahead(2_000), ours), "{}");
    assert.equal(await open(await ahead(55_000), ours), "{}");
    await refuses(await ahead(120_000), "INVALID_PAYLOAD_SIGNATURE");
  });
});

describe("envelope: bounded work before authentication", () => {
  test("more than 8 session-key packets, or more than 8 signatures → refused before any of them is tried", async () => {
    const message = await asMessage(
      Buffer.from(await craft({ signers: [{ key: googles.own[0]! }] }), "base64url"),
    );
    const [pkesk, data] = [...message.packets];
    const flood = new openpgp.PacketList<openpgp.AnyPacket>();
    for (let i = 0; i < 9; i++) flood.push(pkesk!);
    flood.push(data!);
    const wire = Buffer.from(new openpgp.Message(flood).write() as Uint8Array).toString("base64url");
    await refuses(wire, "INVALID_PAYLOAD_ENCRYPTION");
    const nine = Array.from({ length: 9 }, () => ({ key: strangers.own[0]! }));
    await refuses(await craft({ signers: nine }), "INVALID_PAYLOAD_SIGNATURE");
    const eight = [...nine.slice(2), { key: googles.own[0]! }];
    assert.equal(await open(await craft({ signers: eight }), ours), "{}");
  });

  test("compressed requests open; one that unpacks past 64 KiB is refused", async () => {
    const signers = [{ key: googles.own[0]! }];
    for (const compression of [openpgp.enums.compression.zip, openpgp.enums.compression.zlib]) {
      assert.equal(await open(await craft({ signers, compression }), ours), "{}");
      const big = JSON.stringify({ p: "x".repeat(70_000) });
      await refuses(await craft({ text: big, signers, compression }), "INVALID_PAYLOAD_ENCRYPTION");
    }
  });

  test("unverified callers get one description per code, whichever of our keys they named", async () => {
    const descriptions = new Map<string, Set<string>>();
    const toStranger = await loadKeyring({ own: google.privateKey, peer: stranger.publicKey }, labels);
    const wires = [
      "not base64!",
      Buffer.from("not openpgp").toString("base64url"),
      await seal("{}", toStranger),
      await seal("{}", strangers),
      await craft({ signers: [] }),
      await craft({ cipher: "aes128", signers: [{ key: googles.own[0]! }] }),
    ];
    for (const wire of wires) {
      await open(wire, ours).then(
        () => assert.fail("opened"),
        (e: EnvelopeError) => {
          const set = descriptions.get(e.code) ?? new Set();
          set.add(e.description);
          descriptions.set(e.code, set);
        },
      );
    }
    assert.deepEqual(
      [...descriptions].map(([code, set]) => [code, set.size]),
      [
        ["INVALID_PAYLOAD_ENCRYPTION", 1],
        ["INVALID_PAYLOAD_SIGNATURE", 1],
      ],
    );
  });
});

describe("keyrings load key by key", () => {
  test("a revoked, an expired and an encryption-less key are skipped beside a good one; seal and open use the good one", async () => {
    const [revokedPair, single] = await Promise.all([
      openpgp.generateKey({ type: "rsa", rsaBits: 2048, userIDs: [{ name: "revoked" }], format: "armored" }),
      openpgp.generateKey({
        type: "rsa",
        rsaBits: 2048,
        userIDs: [{ name: "single" }],
        subkeys: [],
        format: "armored",
      }),
    ]);
    const revoked = await openpgp.revokeKey({
      key: await readPrivate(revokedPair.privateKey),
      format: "armored",
    });
    const keyring = await loadKeyring(
      {
        own: `${revoked.privateKey}\n${us.privateKey}\n${expired.privateKey}`,
        peer: `${single.publicKey}\n${google.publicKey}\n${revoked.publicKey}\n${expired.publicKey}`,
      },
      labels,
    );
    assert.deepEqual([keyring.own.length, keyring.peer.length], [1, 1]);
    assert.deepEqual(
      keyring.skipped.map((s) => s.reason.replace(/[0-9A-F]{40}/, "FPR")),
      [
        "own key FPR is revoked.",
        "own key FPR has expired or has no valid self-signature.",
        "peer key FPR has no valid encryption subkey.",
        "peer key FPR is revoked.",
        "peer key FPR has expired or has no valid self-signature.",
      ],
    );
    assert.equal(await open(await seal("{}", googles), keyring), "{}");
    assert.equal(await open(await seal("{}", keyring), googles), "{}");
    await assert.rejects(
      loadKeyring({ own: revoked.privateKey, peer: google.publicKey }, labels),
      /^KeyringError: the own keyring has no usable key: own key [0-9A-F]{40} is revoked\.$/,
    );
  });

  test("validity is judged at use: past a key's expiry it is neither sealed with nor opened with", async () => {
    const soon = await keyMadeAt("soon", new Date(), 1 * DAY_SECONDS);
    const both = await loadKeyring(
      { own: us.privateKey, peer: `${soon.publicKey}\n${google.publicKey}` },
      labels,
    );
    const later = new Date(Date.now() + 2 * DAY);
    const soonKey = await readPrivate(soon.privateKey);
    const sealedLater = Buffer.from(await seal("{}", both, later), "base64url");
    const ids = (await asMessage(sealedLater)).getEncryptionKeyIDs().map((id) => id.toHex());
    assert.equal(ids.length, 1, "encrypted to the Google key still valid only");
    assert.ok(!soonKey.getSubkeys().some((s) => ids.includes(s.getKeyID().toHex())));
    const onlySoon = await loadKeyring({ own: us.privateKey, peer: soon.publicKey }, labels);
    await assert.rejects(seal("{}", onlySoon, later), CannotSealError);
    assert.equal(await canSeal(onlySoon, later), "no peer key can be encrypted to");
    assert.equal(await canSeal(onlySoon), undefined);
  });
});

test("a key's usability is judged once per span in which it cannot change, and again the instant it expires", async () => {
  const created = new Date(Date.now() - 2 * DAY);
  const [ours, theirs] = await Promise.all([
    keyMadeAt("ours", created, 3 * DAY_SECONDS),
    keyMadeAt("theirs", created, 365 * DAY_SECONDS),
  ]);
  const keyring = await loadKeyring({ own: ours.privateKey, peer: theirs.publicKey }, labels);
  const key = keyring.own[0]!;
  let checks = 0;
  const check = key.getSigningKey.bind(key);
  key.getSigningKey = ((...args: Parameters<typeof check>) => {
    checks += 1;
    return check(...args);
  }) as typeof key.getSigningKey;
  const now = new Date();
  assert.deepEqual(await usable.toSign(keyring.own, now), [key]);
  assert.deepEqual(await usable.toSign(keyring.own, new Date(now.getTime() + 1000)), [key]);
  assert.equal(checks, 1, "the second request reuses the answer: nothing could change in between");
  const expiry = ((await key.getExpirationTime()) as Date).getTime(); // OpenPGP keeps whole seconds
  assert.deepEqual(await usable.toSign(keyring.own, new Date(expiry - 1)), [key]);
  assert.deepEqual(
    await usable.toSign(keyring.own, new Date(expiry)),
    [],
    "expired: not used from that instant",
  );
  assert.equal(checks, 2, "judged again once the span ended, at the expiry");
});
