import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as openpgp from "openpgp";
import { open, seal } from "../../shared/security/envelope.ts";
import { generateKeyPair, loadKeyring } from "../../shared/security/keyring.ts";

// The same module object openpgp gets from its own require('crypto'), so wrapping its functions sees openpgp's calls.
const nodeCrypto = createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
const subtle = globalThis.crypto.subtle;
const openpgpFile = fileURLToPath(import.meta.resolve("openpgp"));
const patchDir = new URL("../../infra/patches/", import.meta.url);

const gen = (name: string) => generateKeyPair(name, { rsaBits: 2048 });
const [us, google, other] = await Promise.all([gen("us"), gen("google"), gen("other")]);
const labels = { own: "own", peer: "peer" };
const ours = await loadKeyring({ own: us.privateKey, peer: google.publicKey }, labels);
const googles = await loadKeyring({ own: google.privateKey, peer: us.publicKey }, labels);

/** What openpgp asked of node:crypto and WebCrypto while the spies were on. */
const seen = {
  imports: 0,
  webImports: 0,
  ops: { sign: 0, verify: 0, privateDecrypt: 0, publicEncrypt: 0 },
  jwkKeys: 0,
};
const reset = () => {
  seen.imports = 0;
  seen.webImports = 0;
  seen.jwkKeys = 0;
  for (const op of Object.keys(seen.ops) as (keyof typeof seen.ops)[]) seen.ops[op] = 0;
};
const originals = new Map<string, unknown>();
const wrap = (name: string, keyOf: (args: unknown[]) => unknown, count: () => void) => {
  const original = (nodeCrypto as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
  originals.set(name, original);
  (nodeCrypto as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
    count();
    if (!(keyOf(args) instanceof nodeCrypto.KeyObject)) seen.jwkKeys++;
    return original.apply(nodeCrypto, args);
  };
};

/** One request's worth both ways: Google seals, we open and seal the answer, Google opens it. */
async function roundTrip(json: string) {
  const request = await open(await seal(json, googles), ours);
  assert.equal(request, json);
  assert.equal(await open(await seal(request, ours), googles), json);
}

describe("openpgp patch (infra/patches): each RSA key is imported into node:crypto once", () => {
  before(() => {
    wrap(
      "sign",
      (a) => a[2],
      () => seen.ops.sign++,
    );
    wrap(
      "verify",
      (a) => a[2],
      () => seen.ops.verify++,
    );
    wrap(
      "privateDecrypt",
      (a) => (a[0] as { key: unknown }).key,
      () => seen.ops.privateDecrypt++,
    );
    wrap(
      "publicEncrypt",
      (a) => (a[0] as { key: unknown }).key,
      () => seen.ops.publicEncrypt++,
    );
    for (const name of ["createPrivateKey", "createPublicKey"]) {
      const original = (nodeCrypto as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
      originals.set(name, original);
      (nodeCrypto as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        seen.imports++;
        return original.apply(nodeCrypto, args);
      };
    }
    const importKey = subtle.importKey;
    Object.defineProperty(subtle, "importKey", {
      configurable: true,
      value: (...args: Parameters<typeof importKey>) => {
        if (JSON.stringify(args[2]).includes("RSA")) seen.webImports++;
        return importKey.apply(subtle, args);
      },
    });
  });
  after(() => {
    for (const [name, original] of originals)
      (nodeCrypto as unknown as Record<string, unknown>)[name] = original;
    delete (subtle as unknown as Record<string, unknown>).importKey;
  });

  test("the installed openpgp is the patched one, and the patch is made for its version", () => {
    const packageJson = `${openpgpFile.slice(0, openpgpFile.lastIndexOf("/dist/"))}/package.json`;
    const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string };
    assert.ok(
      existsSync(new URL(`openpgp+${version}.patch`, patchDir)),
      `infra/patches has no patch for openpgp ${version}: re-make it (README, Message security)`,
    );
    assert.match(readFileSync(openpgpFile, "utf8"), /gsp-integrator patch: node:crypto key objects/);
  });

  test("after the first request, every RSA operation runs on a key object imported earlier", async () => {
    await roundTrip('{"warm":"up"}');
    reset();
    for (let i = 0; i < 3; i++) await roundTrip(`{"request":${i}}`);
    // Each round trip signs twice, encrypts two session keys, decrypts two and verifies two signatures.
    assert.ok(seen.ops.sign >= 6, `sign ${seen.ops.sign}`);
    assert.ok(seen.ops.verify >= 6, `verify ${seen.ops.verify}`);
    assert.ok(seen.ops.privateDecrypt >= 6, `privateDecrypt ${seen.ops.privateDecrypt}`);
    assert.ok(seen.ops.publicEncrypt >= 6, `publicEncrypt ${seen.ops.publicEncrypt}`);
    assert.equal(seen.jwkKeys, 0, "an RSA operation was given key material to parse instead of a key object");
    assert.equal(seen.imports, 0, "a key was imported into node:crypto again");
    assert.equal(seen.webImports, 0, "a key was imported into WebCrypto");
  });

  test("keys never share a cached key object: another key's signature does not verify, the signer's does", async () => {
    await roundTrip('{"warm":"up"}');
    const [signer, stranger] = await Promise.all([
      openpgp.readPrivateKey({ armoredKey: google.privateKey }),
      openpgp.readKey({ armoredKey: other.publicKey }),
    ]);
    const message = await openpgp.createMessage({ text: "same bytes" });
    const signature = await openpgp.sign({ message, signingKeys: signer, detached: true, format: "binary" });
    const check = async (verificationKeys: openpgp.Key) => {
      const { signatures } = await openpgp.verify({
        message: await openpgp.createMessage({ text: "same bytes" }),
        signature: await openpgp.readSignature({ binarySignature: signature }),
        verificationKeys,
      });
      return signatures[0]!.verified.then(
        () => true,
        () => false,
      );
    };
    assert.equal(await check(stranger), false);
    assert.equal(await check(signer.toPublic()), true);
    // A key read again (new arrays, same content) is imported anew and works the same.
    assert.equal(await check(await openpgp.readKey({ armoredKey: google.publicKey })), true);
  });

  test("a private key cleared and decrypted again still opens what was sealed to it", async () => {
    const locked = await openpgp.encryptKey({
      privateKey: await openpgp.readPrivateKey({ armoredKey: us.privateKey }),
      passphrase: "p",
    });
    const unlock = () => openpgp.decryptKey({ privateKey: locked, passphrase: "p" });
    const wire = await seal('{"x":1}', googles);
    const first = await unlock();
    const opened = async (key: openpgp.PrivateKey) => open(wire, { ...ours, own: [key] });
    assert.equal(await opened(first), '{"x":1}');
    // Zeroes the key's private parameters in place (public in openpgp, missing from its types).
    (first as unknown as { clearPrivateParams(): void }).clearPrivateParams();
    assert.equal(await opened(await unlock()), '{"x":1}');
  });
});

describe("openpgp patch (infra/patches): rarely used algorithms load on first use from openpgp/lazy/*", () => {
  test("each lazy module resolves to the package's own lightweight chunk", () => {
    for (const name of [
      "noble_curves",
      "noble_hashes",
      "nacl-fast",
      "legacy_ciphers",
      "argon2id",
      "unbzip2-stream",
    ]) {
      assert.match(
        import.meta.resolve(`openpgp/lazy/${name}`),
        new RegExp(`/openpgp/dist/lightweight/${name}\\.min\\.mjs$`),
      );
    }
  });

  test("a Curve448 key (noble curves) signs, encrypts, decrypts and verifies", async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: "curve448",
      userIDs: [{ name: "lazy" }],
      format: "object",
    });
    const sealed = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: "curve448" }),
      encryptionKeys: publicKey,
      signingKeys: privateKey,
    });
    const { data, signatures } = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: sealed }),
      decryptionKeys: privateKey,
      verificationKeys: publicKey,
      expectSigned: true,
    });
    assert.equal(data, "curve448");
    assert.equal(await signatures[0]!.verified, true);
  });

  test("a CAST5 message under an argon2 passphrase (legacy ciphers, argon2) opens", async () => {
    const sealed = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: "cast5" }),
      passwords: ["passphrase"],
      config: {
        preferredSymmetricAlgorithm: openpgp.enums.symmetric.cast5,
        s2kType: openpgp.enums.s2k.argon2,
      },
    });
    const { data } = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: sealed }),
      passwords: ["passphrase"],
    });
    assert.equal(data, "cast5");
  });
});
