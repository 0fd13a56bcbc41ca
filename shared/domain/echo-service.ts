import { randomBytes } from "node:crypto";
import { checkRequestHeader } from "../protocol/common.ts";
import { type EchoResponse, parseEchoRequest } from "../protocol/echo.ts";
import { stamp } from "./capture-service.ts";

/**
 * POST /v1/echo: Google's connectivity check and security probe. The envelope and header rules are the
 * ones every method has; no ledger is touched. `serverMessage` carries an id of ours that is also on the
 * request's log line, so support staff on both sides can find the call.
 */
export function echo(now: () => number, body: Record<string, unknown>) {
  checkRequestHeader(body, now());
  const { clientMessage } = parseEchoRequest(body);
  const echoId = `echo-${randomBytes(9).toString("base64url")}`;
  const response: EchoResponse = { clientMessage, serverMessage: `gsp-integrator ${echoId}` };
  return { response: stamp(response, now()), echoId };
}
