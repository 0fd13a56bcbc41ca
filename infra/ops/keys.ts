/**
 * `npm run ops -- keys [--env NAME] [--keys-dir DIR] [--json]`: every key of both keyrings as the
 * service loads them, with whether it is usable now and why not. Public facts only (fingerprint,
 * algorithm, expiry): no key material is ever printed.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { fileKeySource, type KeySource, secretsManagerKeySource } from "../../shared/security/key-source.ts";
import { inspectKeyring, type KeyStatus } from "../../shared/security/keyring.ts";
import { ENVIRONMENT_NAMES, ENVIRONMENTS, type EnvironmentName } from "../cdk/environments.ts";
import { readStackFile } from "../local/stack-file.ts";

export const KEYS_HELP = `usage: npm run ops -- keys [--env NAME | --keys-dir DIR] [--json]

Lists each key the service would load: side (ours / Google's), fingerprint, algorithm and size,
expiry, and whether it is usable now (or why not: expired, revoked, too weak, no encryption
subkey…). Locally the keys come from --keys-dir (default $KEYS_DIR or .local/keys); with --env,
from that environment's two Secrets Manager secrets. No key material is printed.`;

const LABELS = { own: "ours", peer: "google" };

/** The keys folder a running local stack describes in its stack file (`npm start` writes it there). */
function keysDirOfStack(stackFile: string | undefined): string | undefined {
  if (stackFile === undefined) return undefined;
  const stack = readStackFile(stackFile);
  if (!stack) throw new Error(`no running local stack described at ${stackFile}`);
  return stack.keysDir;
}

function sourceFor(values: { env?: string; "keys-dir"?: string; "stack-file"?: string }): KeySource {
  if (values.env) {
    if (!(ENVIRONMENT_NAMES as readonly string[]).includes(values.env)) {
      throw new Error(`unknown environment ${values.env} (one of ${ENVIRONMENT_NAMES.join(", ")})`);
    }
    const { secrets } = ENVIRONMENTS[values.env as EnvironmentName];
    return secretsManagerKeySource(new SecretsManagerClient({}), {
      own: secrets.ourKeys,
      peer: secrets.googleKeys,
    });
  }
  const dir =
    values["keys-dir"] ??
    keysDirOfStack(values["stack-file"]) ??
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

/** Runs the command; returns the exit code (1 when a side has no usable key). */
export async function keysCommand(argv: string[], now = new Date()): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string" },
      "keys-dir": { type: "string" },
      "stack-file": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(KEYS_HELP);
    return 0;
  }
  const source = sourceFor(values);
  const { keys, unreadable } = await inspectKeyring(await source.read(), LABELS, now);
  const complete = [LABELS.own, LABELS.peer].every((side) =>
    keys.some((k) => k.side === side && !k.unusable),
  );
  if (values.json) {
    console.log(JSON.stringify({ source: source.description, keys, unreadable }, null, 2));
  } else {
    console.log(`keys from ${source.description}`);
    console.log(["side", "fingerprint", "algorithm", "expires", "usable"].join("\t"));
    for (const k of keys) console.log(row(k));
    for (const u of unreadable) console.log(`${u.side}\t-\t-\t-\tNO: ${u.reason}`);
    if (!complete)
      console.log("a side has no usable key: the service cannot open or answer Google's requests");
  }
  return complete ? 0 : 1;
}
