/**
 * `npm run ops -- keys [--env NAME] [--keys-dir DIR] [--json]`: every key of both keyrings as the
 * service loads them, with whether it is usable now and why not. Public facts only (fingerprint,
 * algorithm, expiry): no key material is ever printed. It reads the keys folder or the environment's
 * secrets, not the stack's tables and queues: a command without a target.
 */
import { resolve } from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { fileKeySource, type KeySource, secretsManagerKeySource } from "../../shared/security/key-source.ts";
import { inspectKeyring, type KeyStatus } from "../../shared/security/keyring.ts";
import { ENVIRONMENT_NAMES, ENVIRONMENTS, type EnvironmentName } from "../cdk/environments.ts";
import { readStackFile } from "../local/stack-file.ts";
import { type Command, EXIT, OpsError, stringOption, usage, type Values } from "./command.ts";

const LABELS = { own: "ours", peer: "google" };

/** The keys folder a running local stack describes in its stack file (`npm start` writes it there). */
function keysDirOfStack(stackFile: string | undefined): string | undefined {
  if (stackFile === undefined) return undefined;
  const stack = readStackFile(stackFile);
  if (!stack) throw new OpsError(`no running local stack described at ${stackFile}`);
  return stack.keysDir;
}

function sourceFor(values: Values): KeySource {
  const env = stringOption(values, "env");
  if (env !== undefined) {
    const { secrets } = ENVIRONMENTS[env as EnvironmentName];
    return secretsManagerKeySource(new SecretsManagerClient({}), {
      own: secrets.ourKeys,
      peer: secrets.googleKeys,
    });
  }
  const dir =
    stringOption(values, "keys-dir") ??
    keysDirOfStack(stringOption(values, "stack-file")) ??
    process.env.KEYS_DIR ??
    resolve(import.meta.dirname, "../../.local/keys");
  return fileKeySource(dir);
}

const row = (k: KeyStatus) =>
  [
    k.side,
    k.fingerprint,
    `${k.algorithm} ${k.bits ?? "?"}`,
    k.expires,
    k.unusable ? `NO: ${k.unusable}` : "yes",
  ].join("\t");

/** Exits 1 when a side has no usable key. */
export const keysCommand: Command = {
  name: "keys",
  synopsis: "[--env NAME | --keys-dir DIR] [--json]",
  summary:
    "each key of both keyrings: side, fingerprint, algorithm, expiry, usable or why not (no key material)",
  help: `Lists each key the service would load: side (ours / Google's), fingerprint, algorithm and size,
expiry, and whether it is usable now (or why not: expired, revoked, too weak, no encryption
subkey…). Locally the keys come from --keys-dir (default: the keys folder of the stack that
--stack-file describes, else $KEYS_DIR or .local/keys); with --env, from that environment's two
Secrets Manager secrets. No key material is printed. Exits 1 when a side has no usable key.`,
  options: { "keys-dir": { type: "string", description: "a local keys folder" } },
  targetless: true,
  check(values) {
    const env = stringOption(values, "env");
    if (env !== undefined && !(ENVIRONMENT_NAMES as readonly string[]).includes(env))
      throw usage(`unknown environment ${env} (one of ${ENVIRONMENT_NAMES.join(", ")})`);
    return undefined;
  },
  async run(ctx) {
    const source = sourceFor(ctx.values);
    const { keys, unreadable } = await inspectKeyring(await source.read(), LABELS, new Date());
    const complete = [LABELS.own, LABELS.peer].every((side) =>
      keys.some((k) => k.side === side && !k.unusable),
    );
    ctx.print(`keys from ${source.description}`);
    ctx.print(["side", "fingerprint", "algorithm", "expires", "usable"].join("\t"));
    for (const k of keys) ctx.print(row(k));
    for (const u of unreadable) ctx.print(`${u.side}\t-\t-\t-\tNO: ${u.reason}`);
    if (!complete) ctx.print("a side has no usable key: the service cannot open or answer Google's requests");
    ctx.result({ source: source.description, keys, unreadable });
    return complete ? EXIT.OK : EXIT.FAILED;
  },
};
