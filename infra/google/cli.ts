/**
 * `npm run google -- capture|asynchronousCapture [options]`: sends the call as Google would (signed
 * and encrypted with the stand-in Google key), opens and verifies the answer, prints status and JSON.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { asynchronousCaptureBody, callIntegrator, captureBody, standInGoogleKeyring } from "./client.ts";

const USAGE = `usage: npm run google -- capture [options]
       npm run google -- asynchronousCapture [--vpa <vpa> | --token <gpt>] [options]

  --token <gpt>          googlePaymentToken (capture: default gpt-demo-success)
  --vpa <vpa>            asynchronousCapture: upiDetails.vpa (default customer@demobank)
  --mandate <id>         capture: mandateDetails.mandateId instead of a token
  --utn <id>             with --mandate: upcomingTransactionNotificationId
  --auth <id>            authenticationRequestId
  --otp-request <id> --otp <value>   otpVerification
  --amount <micros>      default 728000000 (728 INR)
  --currency <code>      default INR
  --piaid <id>           default InvisiCashIN_INR
  --request-id <id>      default a fresh one (repeat one to see an idempotent replay)
  --url <base>           default http://127.0.0.1:3000 (or a deployed stage's URL)
  --keys <dir>           stand-in Google keys (default .local/keys)
  --plain                plain JSON, for a stack started with MESSAGE_CODEC=plain-json`;

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
    url: { type: "string", default: process.env.GSP_URL ?? "http://127.0.0.1:3000" },
    keys: { type: "string", default: resolve(import.meta.dirname, "../../.local/keys") },
    plain: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});

const method = positionals[0];
if (values.help || (method !== "capture" && method !== "asynchronousCapture")) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
try {
  const common = {
    piaid: values.piaid,
    amount: values.amount,
    currency: values.currency,
    ...(values["request-id"] && { requestId: values["request-id"] }),
  };
  const body =
    method === "capture"
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
  const keyring = values.plain ? undefined : await standInGoogleKeyring(values.keys);
  const reply = await callIntegrator(values.url, `/v1/${method}`, body, { keyring });
  console.log(
    `HTTP ${reply.status}${reply.sealed ? " (signed and encrypted, signature verified)" : " (bare)"}`,
  );
  console.log(JSON.stringify(reply.body, null, 2));
  process.exit(reply.status === 200 ? 0 : 1);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
