import * as crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as openpgp from "openpgp";
import { standInGoogleKeyring } from "../../infra/google/client.ts";
import { KEY_FILES } from "../../infra/local/keys.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import { fileKeySource } from "../../shared/security/key-source.ts";
import { type Keyring, loadKeyring } from "../../shared/security/keyring.ts";
import { type BenchModule, benchCapture, interleaved, ms, ratio, stats } from "./common.ts";

/** The capture request JSON, its description padded so the body is exactly `bytes` long. */
function payloadOfSize(bytes: number): string {
  const body = benchCapture("gpt-demo-success", "728000000");
  const base = JSON.stringify({ ...body, transactionDescription: "" });
  const description = "Google - Music family plan, monthly renewal. "
    .repeat(20)
    .slice(0, bytes - base.length);
  return JSON.stringify({ ...body, transactionDescription: description });
}

/** An RSA key of an openpgp key packet, as node:crypto key objects made once (the floor parses no key per request). */
function rsaKeyObjects(packet: unknown) {
  const { publicParams, privateParams } = packet as {
    publicParams: { n: Uint8Array; e: Uint8Array };
    privateParams?: { d: Uint8Array; p: Uint8Array; q: Uint8Array; u: Uint8Array };
  };
  const b64 = (bytes: Uint8Array | bigint) =>
    (typeof bytes === "bigint"
      ? Buffer.from(bytes.toString(16).padStart(Math.ceil(bytes.toString(16).length / 2) * 2, "0"), "hex")
      : Buffer.from(bytes)
    ).toString("base64url");
  const big = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
  const jwk = { kty: "RSA", n: b64(publicParams.n), e: b64(publicParams.e) };
  const publicKey = crypto.createPublicKey({ key: jwk, format: "jwk" });
  if (!privateParams) return { publicKey, privateKey: undefined };
  const { d, p, q, u } = privateParams;
  // OpenPGP's p < q and u = p⁻¹ mod q; JWK's qi = q⁻¹ mod p: the primes swap.
  const privateKey = crypto.createPrivateKey({
    key: {
      ...jwk,
      d: b64(d),
      p: b64(q),
      q: b64(p),
      dp: b64(big(d) % (big(q) - 1n)),
      dq: b64(big(d) % (big(p) - 1n)),
      qi: b64(u),
    },
    format: "jwk",
  });
  return { publicKey, privateKey };
}

/**
 * The RSA floor of one request, server side, on node:crypto with every key parsed once: decrypt the
 * session key (our encryption subkey), verify Google's SHA-384 signature, sign ours, encrypt a session
 * key to Google's encryption subkey, and AES-256 (CFB, as OpenPGP's SEIPD v1) both ways over the body.
 */
export async function rsaFloor(server: Keyring, google: Keyring, bodyBytes: number) {
  const ourEncryption = rsaKeyObjects((await server.own[0]!.getEncryptionKey()).keyPacket);
  const ours = {
    decrypt: ourEncryption.privateKey!,
    sign: rsaKeyObjects((await server.own[0]!.getSigningKey()).keyPacket).privateKey!,
  };
  const theirs = {
    encrypt: rsaKeyObjects((await server.peer[0]!.getEncryptionKey()).keyPacket).publicKey,
    verify: rsaKeyObjects((await server.peer[0]!.getSigningKey()).keyPacket).publicKey,
  };
  const googleSigning = rsaKeyObjects((await google.own[0]!.getSigningKey()).keyPacket).privateKey!;
  const padding = crypto.constants.RSA_PKCS1_PADDING;
  const body = crypto.randomBytes(bodyBytes);
  const sessionKey = crypto.randomBytes(32);
  const iv = Buffer.alloc(16);
  const encryptedSessionKey = crypto.publicEncrypt({ key: ourEncryption.publicKey, padding }, sessionKey);
  const googleSignature = crypto.sign("sha384", body, googleSigning);
  return () => {
    const key = crypto.privateDecrypt({ key: ours.decrypt, padding }, encryptedSessionKey);
    const decipher = crypto.createDecipheriv("aes-256-cfb", key, iv);
    const plain = Buffer.concat([decipher.update(body), decipher.final()]);
    if (plain.length !== body.length || !crypto.verify("sha384", body, theirs.verify, googleSignature))
      throw new Error("floor: signature did not verify");
    crypto.sign("sha384", body, ours.sign);
    const cipher = crypto.createCipheriv("aes-256-cfb", key, iv);
    Buffer.concat([cipher.update(body), cipher.final()]);
    crypto.publicEncrypt({ key: theirs.encrypt, padding }, sessionKey);
  };
}

/**
 * openpgp as published, without this repository's patch (infra/patches): the package's minified
 * Node build, which the patch leaves alone and nothing else imports. Keys are read by it, so no
 * object crosses between the two copies.
 */
async function unpatchedOpenpgp(): Promise<typeof openpgp> {
  const patched = fileURLToPath(import.meta.resolve("openpgp"));
  const minified = patched.replace(/openpgp\.mjs$/, "openpgp.min.mjs");
  if (readFileSync(minified, "utf8").includes("gsp-integrator patch"))
    throw new Error(`${minified} is patched too: the before/after comparison would compare nothing`);
  return import(pathToFileURL(minified).href);
}

/** The same keys (armored), read by one copy of openpgp: the keys of each copy are its own classes. */
async function bareKeys(pgp: typeof openpgp, keysDir: string) {
  const text = (file: string) => readFileSync(join(keysDir, file), "utf8");
  return {
    googlePrivate: await pgp.readPrivateKey({ armoredKey: text(KEY_FILES.googleStandInPrivate) }),
    integratorPublic: await pgp.readKey({ armoredKey: text(KEY_FILES.integratorPublic) }),
    integratorPrivate: await pgp.readPrivateKey({ armoredKey: text(KEY_FILES.integratorPrivate) }),
    googlePublic: await pgp.readKey({ armoredKey: text(KEY_FILES.googlePublic) }),
  };
}

/** Bare openpgp, one request's RSA work: Google signs + encrypts, the server decrypts + verifies. */
function bareLoop(pgp: typeof openpgp, keys: Awaited<ReturnType<typeof bareKeys>>, payload: Uint8Array) {
  const config: openpgp.PartialConfig = {
    preferredSymmetricAlgorithm: pgp.enums.symmetric.aes256,
    preferredHashAlgorithm: pgp.enums.hash.sha384,
  };
  return async () => {
    const encrypted = await pgp.encrypt({
      message: await pgp.createMessage({ binary: payload }),
      signingKeys: keys.googlePrivate,
      encryptionKeys: keys.integratorPublic,
      format: "binary",
      config,
    });
    const { data } = await pgp.decrypt({
      message: await pgp.readMessage({ binaryMessage: encrypted }),
      decryptionKeys: keys.integratorPrivate,
      verificationKeys: keys.googlePublic,
      expectSigned: true,
      format: "binary",
    });
    if ((data as Uint8Array).length !== payload.length) throw new Error("bare round trip lost data");
  };
}

export const envelopeBench: BenchModule = {
  id: "envelope",
  title: "1. OpenPGP envelope cost per request, against the RSA floor",
  async run(ctx) {
    // The server's keyring exactly as the service loads it, and the stand-in Google's.
    const server = await loadKeyring(await fileKeySource(ctx.keysDir).read(), {
      own: "integrator private",
      peer: "Google public",
    });
    const google = await standInGoogleKeyring(ctx.keysDir);
    const payload = payloadOfSize(600);
    const payloadBytes = Buffer.from(payload, "utf8");
    // Requests as Google sends them (opened by the server); a pool, so no message is special.
    const wires = await Promise.all(Array.from({ length: 16 }, () => seal(payload, google)));
    const floorBytes = 1024;
    const floor = await rsaFloor(server, google, floorBytes);
    const unpatched = await unpatchedOpenpgp();

    const variants = {
      /** The physical floor of the server side: the same RSA and AES work on node:crypto, keys parsed once. */
      rsaFloor: async () => floor(),
      /** Server side of one request: open Google's request, seal our answer (same payload size). */
      serverOpenSeal: async (i: number) => {
        const json = await open(wires[i % wires.length]!, server);
        await seal(json, server);
      },
      /** The envelope round trip in one direction: Google seals, the server opens. */
      envelopeSealOpen: async () => {
        await open(await seal(payload, google), server);
      },
      /** Bare openpgp (patched, as the service runs it), same keys and payload: sign + encrypt, then decrypt + verify. */
      bareEncryptDecrypt: bareLoop(openpgp, await bareKeys(openpgp, ctx.keysDir), payloadBytes),
    };
    // openpgp as published, in a set of its own with the floor: interleaved with the others, its
    // garbage and WebCrypto jobs doubled their wall-clock p50 (their CPU barely moved).
    const published = {
      rsaFloorAgain: async () => floor(),
      /** The same bare loop on openpgp as published (no patch): one key import per RSA operation. */
      bareUnpatched: bareLoop(unpatched, await bareKeys(unpatched, ctx.keysDir), payloadBytes),
    };
    // The two halves of the server side, timed on their own for the breakdown.
    const halves = {
      open: async (i: number) => {
        await open(wires[i % wires.length]!, server);
      },
      seal: async () => {
        await seal(payload, server);
      },
    };
    const n = ctx.quick ? 40 : 300;
    const main = await interleaved(variants, { rounds: 10, perRound: n / 10, warmup: 20 });
    const half = await interleaved(halves, { rounds: 5, perRound: n / 10, warmup: 5 });
    const before = await interleaved(published, { rounds: 5, perRound: n / 10, warmup: 10 });
    const cpu: Record<string, number> = { ...main.cpuMsPerOp, ...half.cpuMsPerOp, ...before.cpuMsPerOp };
    const s = {
      rsaFloor: stats(main.samples.rsaFloor),
      serverOpenSeal: stats(main.samples.serverOpenSeal),
      envelopeSealOpen: stats(main.samples.envelopeSealOpen),
      bareEncryptDecrypt: stats(main.samples.bareEncryptDecrypt),
      rsaFloorAgain: stats(before.samples.rsaFloorAgain),
      bareUnpatched: stats(before.samples.bareUnpatched),
      open: stats(half.samples.open),
      seal: stats(half.samples.seal),
    };
    const base = s.rsaFloor;
    const row = (
      name: string,
      key: keyof typeof s,
      vsFloor: boolean,
      floorKey: "rsaFloor" | "rsaFloorAgain" = "rsaFloor",
    ) => {
      const x = s[key];
      return [
        name,
        x.n,
        ms(x.p50),
        ms(x.p99),
        vsFloor ? ratio(x.p50 / s[floorKey].p50) : "",
        ms(cpu[key]!),
        vsFloor ? ratio(cpu[key]! / cpu[floorKey]!) : "",
      ];
    };
    const { algorithm, bits } = server.own[0]!.getAlgorithmInfo();
    const envelopeVsFloor = s.serverOpenSeal.p50 / base.p50;
    return {
      tables: [
        {
          headers: [
            "operation (one request's worth)",
            "n",
            "p50 ms",
            "p99 ms",
            "p50 / RSA floor",
            "CPU ms per op (mean)",
            "CPU / RSA floor",
          ],
          rows: [
            row(
              `RSA floor: node:crypto, keys parsed once (decrypt + verify + sign + encrypt + AES-256 of ${floorBytes} B both ways)`,
              "rsaFloor",
              false,
            ),
            row("envelope, server side: `open` request + `seal` answer", "serverOpenSeal", true),
            row("… of which `open` (decrypt + verify + signer check)", "open", false),
            row("… of which `seal` (sign + encrypt + base64url)", "seal", false),
            row("envelope: Google `seal` then server `open` (same RSA work)", "envelopeSealOpen", true),
            row(
              "bare openpgp, patched (as the service runs it): encrypt (sign + encrypt) then decrypt (+ verify)",
              "bareEncryptDecrypt",
              true,
            ),
            row("RSA floor again, interleaved with the row below", "rsaFloorAgain", false),
            row(
              "bare openpgp as published (no patch: a key import per RSA operation), same loop",
              "bareUnpatched",
              true,
              "rsaFloorAgain",
            ),
          ],
        },
      ],
      notes: [
        `Keys: ${algorithm} ${bits}-bit, integrator and Google stand-in (ensureLocalKeys(dir, 3072)); payload: a ${payloadBytes.length}-byte capture request JSON; wire body ${wires[0]!.length} bytes (base64url).`,
        "Every row runs interleaved with the others in 10 rounds after a warm-up, in this one process; each sample is one sequential operation. Every row but the floor does one signature, one session-key encryption, one decryption and one verification; the server-side row does it with the keys the way the service does (its own to decrypt and sign, Google's to verify and encrypt to), which is the per-request cost of the envelope to the service.",
        "RSA floor: the physical minimum of that work, on node:crypto key objects made once from the same keys (not timed): privateDecrypt (PKCS#1 v1.5) of a session key, verify and sign SHA-384 over the body, publicEncrypt of a session key, AES-256-CFB of the body one way and back. No OpenPGP packet parsing, no hashing of packet headers, no key-validity checks: what openpgp adds to that is the envelope's gap to the floor.",
        "openpgp here carries this repository's patch (infra/patches, applied on npm ci): each RSA key is imported into node:crypto once and reused. The unpatched row runs the package's own minified build of the same version, which the patch does not touch, so the before and after are from this one run; it runs in a set of its own with the floor (ratios against that floor), since interleaved with the others it doubled their wall-clock p50.",
      ],
      headlines: [
        `Envelope, server side per request (open + seal, RSA ${bits}): p50 ${ms(s.serverOpenSeal.p50)} ms, ${ratio(envelopeVsFloor)} the RSA floor (node:crypto, keys parsed once: p50 ${ms(base.p50)} ms), CPU ${ratio(cpu.serverOpenSeal! / cpu.rsaFloor!)}; bare openpgp ${ratio(s.bareEncryptDecrypt.p50 / base.p50)} patched, ${ratio(s.bareUnpatched.p50 / s.rsaFloorAgain.p50)} as published (CPU ${ratio(cpu.bareEncryptDecrypt! / cpu.rsaFloor!)} and ${ratio(cpu.bareUnpatched! / cpu.rsaFloorAgain!)}).`,
      ],
      data: { ...s, cpuMsPerOp: cpu, floorBytes },
    };
  },
};
