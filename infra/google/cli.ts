/**
 * `npm run google -- capture [options]`: sends a capture as Google would (signed and encrypted
 * with the stand-in Google key), opens and verifies the answer, prints status and JSON.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { callIntegrator, captureBody, standInGoogleKeyring } from "./client.ts";

const USAGE = `usage: npm run google -- capture [options]

  --token <gpt>          googlePaymentToken (default gpt-demo-success)
  --mandate <id>         mandateDetails.mandateId instead of a token
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

if (values.help || positionals[0] !== "capture") {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
try {
  const body = captureBody({
    piaid: values.piaid,
    amount: values.amount,
    currency: values.currency,
    ...(values.mandate
      ? { mandateId: values.mandate }
      : { googlePaymentToken: values.token ?? "gpt-demo-success" }),
    ...(values.utn && { upcomingTransactionNotificationId: values.utn }),
    ...(values.auth && { authenticationRequestId: values.auth }),
    ...(values["otp-request"] && { otp: { sendOtpRequestId: values["otp-request"], otp: values.otp ?? "" } }),
    ...(values["request-id"] && { requestId: values["request-id"] }),
  });
  const keyring = values.plain ? undefined : await standInGoogleKeyring(values.keys);
  const reply = await callIntegrator(values.url, "/v1/capture", body, { keyring });
  console.log(
    `HTTP ${reply.status}${reply.sealed ? " (signed and encrypted, signature verified)" : " (bare)"}`,
  );
  console.log(JSON.stringify(reply.body, null, 2));
  process.exit(reply.status === 200 ? 0 : 1);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
