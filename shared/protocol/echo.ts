import type * as v from "valibot";
import { jsonObject, parseWith, RequestHeader, text } from "./common.ts";

const EchoRequestSchema = jsonObject({ requestHeader: RequestHeader, clientMessage: text });
export type EchoRequest = v.InferOutput<typeof EchoRequestSchema>;

/** Validates a decrypted echo request; unknown members are ignored (forward compatibility). */
export const parseEchoRequest = (body: Record<string, unknown>): EchoRequest =>
  parseWith(EchoRequestSchema, body);

export interface EchoResponse extends Record<string, unknown> {
  clientMessage: string;
  serverMessage: string;
}
