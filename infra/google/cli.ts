/**
 * `npm run google -- capture|asynchronousCapture|refund|echo [options]`: sends the call as Google would (signed
 * and encrypted with the stand-in Google key), opens and verifies the answer, prints status and JSON.
 * Its URL, keys folder and codec come from the running stack (.local/stack.json, as `ops` reads it)
 * unless given.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { KEY_FILES } from "../local/keys.ts";
import {
  asynchronousCaptureBody,
  callIntegrator,
  captureBody,
  echoBody,
  refundBody,
  standInGoogleKeyring,
} from "./client.ts";

const DEFAULT_STACK_FILE = resolve(import.meta.dirname, "../../.local/stack.json");

/** What the running local stack wrote about itself, if one runs (npm start). */
function runningStack(file: string): { url?: string; keysDir?: string; messageCodec?: string } {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return {};
  }
}

const USAGE = `usage: npm run google -- capture [options]
       npm run google -- asynchronousCapture [--vpa <vpa> | --token <gpt>] [options]
       npm run google -- refund --capture-request-id <id> [--amount <micros>] [options]
       npm run google -- echo [--message <text>] [options]

  --token <gpt>          googlePaymentToken (capture: default gpt-demo-success)
  --vpa <vpa>            asynchronousCapture: upiDetails.vpa (default customer@demobank)
  --mandate <id>         capture: mandateDetails.mandateId instead of a token
  --utn <id>             with --mandate: upcomingTransactionNotificationId
  --auth <id>            authenticationRequestId
  --otp-request <id> --otp <value>   otpVerification
  --capture-request-id <id>   refund: Google's requestId of the capture to refund
  --message <text>       echo: the clientMessage (default "hello from Google")
  --amount <micros>      default 728000000 (728 INR; for a refund, the refundAmount)
  --currency <code>      default INR
  --piaid <id>           default InvisiCashIN_INR
  --request-id <id>      default a fresh one (repeat one to see an idempotent replay)
  --url <base>           default GSP_URL, else the running stack's (.local/stack.json), else http://127.0.0.1:3000
  --keys <dir>           stand-in Google keys: default the running stack's keys folder, else .local/keys
  --plain                plain JSON (default when the running stack uses MESSAGE_CODEC=plain-json)
  --stack-file <path>    the running stack's description (default .local/stack.json, or LOCAL_STACK_FILE)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    token: { type: "string" },
    vpa: { type: "string" },
    mandate: { type: "string" },
    utn: { type: "string" },
    auth: { type: "string" },
    "otp-request": { type: "string" },
    otp: { type: "string" },
    amount: { type: "string", default: "728000000" },
    currency: { type: "string", default: "INR" },
    piaid: { type: "string", default: "InvisiCashIN_INR" },
    "request-id": { type: "string" },
    "capture-request-id": { type: "string" },
    message: { type: "string" },
    url: { type: "string" },
    keys: { type: "string" },
    plain: { type: "boolean" },
    "stack-file": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

const METHODS = ["capture", "asynchronousCapture", "refund", "echo"] as const;
const method = METHODS.find((m) => m === positionals[0]);
if (values.help || !method) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (method === "refund" && !values["capture-request-id"]) {
  console.error("refund needs --capture-request-id (Google's requestId of the capture)");
  process.exit(2);
}
const stack = runningStack(values["stack-file"] ?? process.env.LOCAL_STACK_FILE ?? DEFAULT_STACK_FILE);
const url = values.url ?? process.env.GSP_URL ?? stack.url ?? "http://127.0.0.1:3000";
const keysDir = values.keys ?? stack.keysDir ?? resolve(import.meta.dirname, "../../.local/keys");
const plain = values.plain ?? stack.messageCodec === "plain-json";
try {
  if (!plain && !existsSync(join(keysDir, KEY_FILES.googleStandInPrivate))) {
    console.error(
      `no ${KEY_FILES.googleStandInPrivate} in ${keysDir}: this client signs as the stand-in Google, and that folder holds no stand-in key (with Google's real public key in ${KEY_FILES.googlePublic}, only Google can call the service)`,
    );
    process.exit(1);
  }
  const common = {
    piaid: values.piaid,
    amount: values.amount,
    currency: values.currency,
    ...(values["request-id"] && { requestId: values["request-id"] }),
  };
  const requestId = values["request-id"];
  const body =
    method === "refund"
      ? refundBody({
          piaid: values.piaid,
          captureRequestId: values["capture-request-id"]!,
          refundAmount: values.amount,
          currency: values.currency,
          ...(requestId && { requestId }),
        })
      : method === "echo"
        ? echoBody(values.message ?? "hello from Google", requestId)
        : method === "capture"
          ? captureBody({
              ...common,
              ...(values.mandate
                ? { mandateId: values.mandate }
                : { googlePaymentToken: values.token ?? "gpt-demo-success" }),
              ...(values.utn && { upcomingTransactionNotificationId: values.utn }),
              ...(values.auth && { authenticationRequestId: values.auth }),
              ...(values["otp-request"] && {
                otp: { sendOtpRequestId: values["otp-request"], otp: values.otp ?? "" },
              }),
            })
          : asynchronousCaptureBody({
              ...common,
              ...(values.token
                ? { googlePaymentToken: values.token }
                : { vpa: values.vpa ?? "customer@demobank" }),
            });
  const keyring = plain ? undefined : await standInGoogleKeyring(keysDir);
  const reply = await callIntegrator(url, `/v1/${method}`, body, { keyring });
  console.log(
    `HTTP ${reply.status}${reply.sealed ? " (signed and encrypted, signature verified)" : " (bare)"}`,
  );
  console.log(JSON.stringify(reply.body, null, 2));
  process.exit(reply.status === 200 ? 0 : 1);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
