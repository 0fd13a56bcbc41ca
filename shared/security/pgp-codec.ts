import type { MessageCodec } from "../http/codec.ts";
import { canSeal, openMessage, seal } from "./envelope.ts";
import type { Keyring } from "./keyring.ts";

/** The production codec: every body signed and encrypted with OpenPGP, both ways. */
export const pgpCodec = (keyring: () => Promise<Keyring>): MessageCodec => ({
  name: "openpgp",
  contentType: "application/octet-stream; charset=utf-8",
  async open(body) {
    return openMessage(body.toString("utf8"), await keyring());
  },
  async seal(json) {
    return seal(json, await keyring());
  },
  async cannotSeal(until) {
    const ring = await keyring();
    return (await canSeal(ring)) ?? (await canSeal(ring, until));
  },
});
