import { readFileSync } from "node:fs";
import { DEMO_LEDGER } from "../../infra/local/stack.ts";

/** Customer secrets of the demo fixture (tokens, OTPs) that must never reach a log line or error body. */
export function fixtureSecrets(path = DEMO_LEDGER): string[] {
  const f = JSON.parse(readFileSync(path, "utf8")) as {
    tokens?: { googlePaymentToken: string }[];
    vpas?: { vpa: string }[];
    otps?: { otp: string }[];
  };
  return [
    ...(f.tokens ?? []).map((t) => t.googlePaymentToken),
    ...(f.vpas ?? []).map((v) => v.vpa),
    ...(f.otps ?? []).map((o) => o.otp),
  ];
}

/** Secrets a test invents itself (wrong OTPs, unknown tokens) are registered here too. */
export const WRONG_OTP = "000917";
export const UNKNOWN_TOKEN = "gpt-test-unknown-4411";

/** Key material must never be logged either: any armored key or message block gives it away. */
export const KEY_MATERIAL = [
  "BEGIN PGP PRIVATE KEY BLOCK",
  "BEGIN PGP MESSAGE",
  "BEGIN PGP PUBLIC KEY BLOCK",
];

export const allSecrets = () => [
  ...fixtureSecrets(),
  WRONG_OTP,
  UNKNOWN_TOKEN,
  "nobody@demobank",
  ...KEY_MATERIAL,
];

/**
 * Tokens and VPAs the tests load themselves (test/support's `customer()` and the ledgers written inline)
 * follow the demo fixture's conventions, `gpt-…` and `…@demobank`: matching those shapes covers every one
 * of them without each test registering its own. No log line has a reason to contain either.
 */
export const SECRET_PATTERNS = [/gpt-[A-Za-z0-9-]+/, /[A-Za-z0-9._-]+@demobank/i];

/** Lines of `text` that contain any secret, with the secret named (for a readable failure). */
export function leaks(lines: string[], secrets = allSecrets(), patterns = SECRET_PATTERNS): string[] {
  return lines.flatMap((line) => [
    ...secrets.filter((s) => line.includes(s)).map((s) => `${s} in: ${line.slice(0, 300)}`),
    ...patterns.flatMap((p) => line.match(p) ?? []).map((s) => `${s} in: ${line.slice(0, 300)}`),
  ]);
}
