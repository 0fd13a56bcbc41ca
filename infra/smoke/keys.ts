import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair } from "../../shared/security/keyring.ts";
import { KEY_FILES } from "../local/keys.ts";

/** The smoke key in a local keys folder; its public half is appended to google.public.asc (never a prod keyring). */
export const SMOKE_KEY_FILE = "smoke.private.asc";

/**
 * Makes a smoke keypair in a local keys folder and makes the local Google keyring trust it; does
 * nothing if one is there. A running stack trusts it after its next keyring re-read.
 */
export async function addLocalSmokeKey(dir: string, rsaBits: 2048 | 3072 = 3072): Promise<boolean> {
  if (existsSync(join(dir, SMOKE_KEY_FILE))) return false;
  const { privateKey, publicKey } = await generateKeyPair("gsp smoke test (non-prod only)", { rsaBits });
  writeFileSync(join(dir, SMOKE_KEY_FILE), privateKey, { mode: 0o600, flag: "wx" });
  appendFileSync(join(dir, KEY_FILES.googlePublic), `\n${publicKey}`);
  return true;
}
