import * as openpgp from "openpgp";
import { standInGoogleKeyring } from "../../infra/google/client.ts";
import { open, seal } from "../../shared/security/envelope.ts";
import { fileKeySource } from "../../shared/security/key-source.ts";
import { loadKeyring } from "../../shared/security/keyring.ts";
import { type BenchModule, benchCapture, interleaved, ms, ratio, stats } from "./common.ts";

/** The capture request JSON, its description padded so the body is exactly `bytes` long. */
export function payloadOfSize(bytes: number): string {
  const body = benchCapture("gpt-demo-success", "728000000");
  const base = JSON.stringify({ ...body, transactionDescription: "" });
  const description = "Google - Music family plan, monthly renewal. "
    .repeat(20)
    .slice(0, bytes - base.length);
  return JSON.stringify({ ...body, transactionDescription: description });
}

/** What the protocol asks of every body, passed to the bare loop too so both do the same cryptography. */
const CONFIG: openpgp.PartialConfig = {
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredHashAlgorithm: openpgp.enums.hash.sha384,
};

export const envelopeBench: BenchModule = {
  id: "envelope",
  title: "1. OpenPGP envelope cost per request",
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

    const variants = {
      /** Server side of one request: open Google's request, seal our answer (same payload size). */
      serverOpenSeal: async (i: number) => {
        const json = await open(wires[i % wires.length]!, server);
        await seal(json, server);
      },
      /** The envelope round trip in one direction: Google seals, the server opens. */
      envelopeSealOpen: async () => {
        await open(await seal(payload, google), server);
      },
      /** Bare openpgp, same keys and payload: sign + encrypt, then decrypt + verify. */
      bareEncryptDecrypt: async () => {
        const encrypted = await openpgp.encrypt({
          message: await openpgp.createMessage({ binary: payloadBytes }),
          signingKeys: google.own,
          encryptionKeys: google.peer,
          format: "binary",
          config: CONFIG,
        });
        const { data } = await openpgp.decrypt({
          message: await openpgp.readMessage({ binaryMessage: encrypted }),
          decryptionKeys: server.own,
          verificationKeys: server.peer,
          expectSigned: true,
          format: "binary",
        });
        if ((data as Uint8Array).length !== payloadBytes.length) throw new Error("bare round trip lost data");
      },
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
    const samples = main.samples;
    const halfSamples = half.samples;
    const cpu: Record<string, number> = { ...main.cpuMsPerOp, ...half.cpuMsPerOp };

    const s = {
      serverOpenSeal: stats(samples.serverOpenSeal),
      envelopeSealOpen: stats(samples.envelopeSealOpen),
      bareEncryptDecrypt: stats(samples.bareEncryptDecrypt),
      open: stats(halfSamples.open),
      seal: stats(halfSamples.seal),
    };
    const bare = s.bareEncryptDecrypt;
    const row = (name: string, key: keyof typeof s, vsBare: boolean) => {
      const x = s[key];
      return [
        name,
        x.n,
        ms(x.p50),
        ms(x.p99),
        vsBare ? ratio(x.p50 / bare.p50) : "",
        vsBare ? ratio(x.p99 / bare.p99) : "",
        ms(cpu[key]!),
      ];
    };
    const { algorithm, bits } = server.own[0]!.getAlgorithmInfo();
    return {
      tables: [
        {
          headers: [
            "operation (one request's worth)",
            "n",
            "p50 ms",
            "p99 ms",
            "p50 / bare",
            "p99 / bare",
            "CPU ms per op (mean)",
          ],
          rows: [
            row(
              "bare openpgp: encrypt (sign + encrypt) then decrypt (+ verify)",
              "bareEncryptDecrypt",
              false,
            ),
            row("envelope: Google `seal` then server `open` (same work as bare)", "envelopeSealOpen", true),
            row("envelope, server side: `open` request + `seal` answer", "serverOpenSeal", true),
            row("… of which `open` (decrypt + verify + signer check)", "open", false),
            row("… of which `seal` (sign + encrypt + base64url)", "seal", false),
          ],
        },
      ],
      notes: [
        `Keys: ${algorithm} ${bits}-bit, integrator and Google stand-in (ensureLocalKeys(dir, 3072)); payload: a ${payloadBytes.length}-byte capture request JSON; wire body ${wires[0]!.length} bytes (base64url).`,
        "Both loops use the same keys, payload and protocol config (AES-256, SHA-384), run interleaved in 10 rounds after a warm-up, in this one process; each sample is one sequential operation.",
        "The bare loop and the `seal`+`open` row do the same RSA work (one signature, one session-key encryption, one decryption, one verification); the server-side row does the same amount with the keys the other way round, which is the per-request cost of the envelope to the service.",
      ],
      headlines: [
        `Envelope, server side per request (open + seal, RSA ${bits}): p50 ${ms(s.serverOpenSeal.p50)} ms, ${ratio(s.serverOpenSeal.p50 / bare.p50)} the bare openpgp loop (p50 ${ms(bare.p50)} ms).`,
      ],
      data: { ...s, cpuMsPerOp: cpu },
    };
  },
};
