import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { OtpPepperLocation } from "../config.ts";

/** A pepper shorter than this is refused: it must not be guessable. */
const MIN_PEPPER_BYTES = 32;

/**
 * The OTP pepper, read once per process (a failed read is retried on next use). It never rotates:
 * changing it makes every OTP outstanding not match, which for OTPs minutes old is harmless.
 */
export function otpPepperSource(
  location: OtpPepperLocation,
  secretsManager: () => SecretsManagerClient,
): () => Promise<Uint8Array> {
  let pepper: Promise<Uint8Array> | undefined;
  const load = async () => {
    const text =
      location.source === "file"
        ? await readOrCreatePepperFile(location.path)
        : (await secretsManager().send(new GetSecretValueCommand({ SecretId: location.secretId })))
            .SecretString;
    const bytes = Buffer.from(text?.trim() ?? "", "utf8");
    if (bytes.length < MIN_PEPPER_BYTES)
      throw new Error(`the OTP pepper must hold at least ${MIN_PEPPER_BYTES} bytes`);
    return bytes;
  };
  return () => {
    pepper ??= load().catch((error: Error) => {
      pepper = undefined;
      throw error;
    });
    return pepper;
  };
}

/** Locally the pepper is a file beside the keys, made on first use (several processes may race to make it). */
export async function readOrCreatePepperFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  try {
    await writeFile(path, randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return readFile(path, "utf8");
}
