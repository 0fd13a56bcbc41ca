import type { MessageCodec } from "../http/codec.ts";
import { open, seal } from "./envelope.ts";
import type { Keyring } from "./keyring.ts";

/** The production codec: every body signed and encrypted with OpenPGP, both ways. */
export const pgpCodec = (keyring: () => Promise<Keyring>): MessageCodec => ({
  name: "openpgp",
  contentType: "application/octet-stream; charset=utf-8",
  async open(body) {
    return open(body.toString("utf8"), await keyring());
  },
  async seal(json) {
    return seal(json, await keyring());
  },
});
