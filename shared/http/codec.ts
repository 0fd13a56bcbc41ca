import { ProtocolError } from "../protocol/errors.ts";
import { decodeUtf8 } from "../security/envelope.ts";

/**
 * The seam between wire bodies and JSON text. The plain codec is for local development; the
 * OpenPGP codec (signed + encrypted) is what a deployment uses.
 */
export interface MessageCodec {
  readonly name: string;
  readonly contentType: string;
  /** Wire body → the opened bytes (JSON text, not yet decoded), or a ProtocolError (bad envelope). */
  open(body: Buffer): Promise<Uint8Array>;
  /** JSON text → wire body. */
  seal(json: string): Promise<string>;
  /** Why an answer could not be sealed now and until `until`, or undefined when it can (asked before any ledger write). */
  cannotSeal(until: Date): Promise<string | undefined>;
}

export const plainJsonCodec: MessageCodec = {
  name: "plain-json",
  contentType: "application/json; charset=utf-8",
  async open(body) {
    return body;
  },
  async seal(json) {
    return json;
  },
  async cannotSeal() {
    return undefined;
  },
};

/**
 * Parses the opened body strictly (UTF-8 and JSON as specified: no comments, trailing commas, NaN or
 * single quotes; nothing repaired); anything that is not a JSON object is INVALID_DECRYPTED_REQUEST.
 */
export function parseOpenedBody(bytes: Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeUtf8(bytes));
  } catch {
    throw new ProtocolError("INVALID_DECRYPTED_REQUEST", "request body is not JSON in UTF-8");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError("INVALID_DECRYPTED_REQUEST", "request body is not a JSON object");
  }
  if (depthExceeds(parsed, MAX_DEPTH)) {
    throw new ProtocolError(
      "INVALID_DECRYPTED_REQUEST",
      `request body is nested more than ${MAX_DEPTH} levels deep`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** No protocol message nests beyond a handful of levels; deeper input is refused before anything recurses over it. */
export const MAX_DEPTH = 32;

function depthExceeds(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
