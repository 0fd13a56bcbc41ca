/**
 * `npm run google -- capture|asynchronousCapture|refund|echo [options]`: sends the call as Google would (signed
 * and encrypted with the stand-in Google key), opens and verifies the answer, prints status and JSON.
 * Its URL, keys folder and codec come from the running stack (.local/stack.json, as `ops` reads it)
 * unless given.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { IssueRequest, SeenByClient } from "../local/google-stand-in.ts";
import { type DeskStatement, statementNotificationBody } from "../local/google-statements.ts";
import { KEY_FILES } from "../local/keys.ts";
import { readStackFile, type StackFile, stackFilePath } from "../local/stack-file.ts";
import {
  asynchronousCaptureBody,
  callIntegrator,
  captureBody,
  echoBody,
  refundBody,
  standInGoogleKeyring,
} from "./client.ts";

const USAGE = `usage: npm run google -- capture [options]
       npm run google -- asynchronousCapture [--vpa <vpa> | --token <gpt>] [options]
       npm run google -- refund --capture-request-id <id> [--amount <micros>] [options]
       npm run google -- echo [--message <text>] [options]
       npm run google -- remittanceStatement [--from <time>] [--to <time>] [--fee-bps N] [--statement-id <id>]

  --token <gpt>          googlePaymentToken (capture: default gpt-demo-success)
  --vpa <vpa>            asynchronousCapture: upiDetails.vpa (default customer@demobank)
  --mandate <id>         capture: mandateDetails.mandateId instead of a token
  --utn <id>             with --mandate: upcomingTransactionNotificationId
  --auth <id>            authenticationRequestId
  --otp-request <id> --otp <value>   otpVerification
  --capture-request-id <id>   refund: Google's requestId of the capture to refund
  --message <text>       echo: the clientMessage (default "hello from Google")
  --from, --to <time>    remittanceStatement: the period (ISO 8601 or epoch ms; default: today from 00:00 UTC until now)
  --fee-bps <N>          remittanceStatement: Google pays the integrator N basis points of each charge (default 0)
  --journal <path>       where this client notes the money movements it saw answered SUCCESS, for statements
                         (default: google-seen.jsonl beside the stack file)
  --google-url <base>    the stand-in Google that issues the statement (default: the running stack's)
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
    journal: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    "fee-bps": { type: "string" },
    "statement-id": { type: "string" },
    "google-url": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

const METHODS = ["capture", "asynchronousCapture", "refund", "echo", "remittanceStatement"] as const;
const method = METHODS.find((m) => m === positionals[0]);
if (values.help || !method) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (method === "refund" && !values["capture-request-id"]) {
  console.error("refund needs --capture-request-id (Google's requestId of the capture)");
  process.exit(2);
}
const stackFile = stackFilePath(values["stack-file"]);
/** What the running local stack wrote about itself, if one runs (npm start). */
const stack: Partial<StackFile> = readStackFile(stackFile) ?? {};
const journal = values.journal ?? join(dirname(stackFile), "google-seen.jsonl");
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
  const keyringOrNone = plain ? undefined : await standInGoogleKeyring(keysDir);
  if (method === "remittanceStatement") process.exit(await remittanceStatement(keyringOrNone));
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
  const reply = await callIntegrator(url, `/v1/${method}`, body, { keyring: keyringOrNone });
  printReply(reply);
  noteMovement(body, reply.status, reply.body);
  process.exit(reply.status === 200 ? 0 : 1);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

function printReply(reply: { status: number; sealed: boolean; body: Record<string, unknown> }) {
  console.log(
    `HTTP ${reply.status}${reply.sealed ? " (signed and encrypted, signature verified)" : " (bare)"}`,
  );
  console.log(JSON.stringify(reply.body, null, 2));
}

/** Notes a money movement Google saw answered (what Google's own ledger would hold), for statements. */
function noteMovement(body: Record<string, unknown>, status: number, answer: Record<string, unknown>) {
  const kind = method as SeenByClient["kind"];
  const moved =
    status === 200 &&
    ((kind === "capture" && answer.result === "SUCCESS") ||
      (kind === "asynchronousCapture" && answer.result === "ACKNOWLEDGED") ||
      (kind === "refund" && answer.result === "SUCCESS"));
  if (!moved) return;
  const seen: SeenByClient = {
    kind,
    piaid: String(body.paymentIntegratorAccountId),
    requestId: String((body.requestHeader as { requestId: string }).requestId),
    paymentIntegratorId: String(answer.paymentIntegratorTransactionId ?? answer.paymentIntegratorRefundId),
    amount: String(body.amount ?? body.refundAmount),
    atMs: Date.now(),
  };
  mkdirSync(dirname(journal), { recursive: true });
  appendFileSync(journal, `${JSON.stringify(seen)}\n`);
}

/** A time option: ISO 8601 or epoch milliseconds. */
function instant(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    console.error(`--${name} must be ISO 8601 or epoch milliseconds, not ${value}`);
    process.exit(2);
  }
  return ms;
}

/**
 * As Google at the end of a statement period: the stand-in issues a statement of what this client saw
 * (its journal) plus the asynchronous SUCCESS notifications it received, with fees by the rule; then
 * Google notifies the integrator, serves the details in pages and waits for the acceptance.
 */
async function remittanceStatement(keyring: Awaited<ReturnType<typeof standInGoogleKeyring>> | undefined) {
  const now = Date.now();
  const fromMs = instant(
    "from",
    values.from,
    Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`),
  );
  const toMs = instant("to", values.to, now + 1);
  const feeBps = values["fee-bps"] === undefined ? 0 : Number(values["fee-bps"]);
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > 10_000) {
    console.error("--fee-bps must be a whole number of basis points from 0 to 10000");
    return 2;
  }
  const googleUrl = values["google-url"] ?? stack.googleBaseUrl;
  if (!googleUrl) {
    console.error(
      "no stand-in Google to issue the statement: pass --google-url (the running stack has none)",
    );
    return 1;
  }
  const seen = existsSync(journal)
    ? readFileSync(journal, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as SeenByClient)
    : [];
  const ask: IssueRequest = {
    piaid: values.piaid,
    statementId: values["statement-id"] ?? `stmt-${now.toString(36)}`,
    currencyCode: values.currency,
    fromMs,
    toMs,
    feeBps,
    seen,
  };
  const issued = await fetch(new URL("/stand-in/remittanceStatement", googleUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ask),
  });
  if (issued.status !== 200) {
    console.error(
      `the stand-in Google at ${googleUrl} did not issue it: HTTP ${issued.status} ${await issued.text()}`,
    );
    return 1;
  }
  const statement = (await issued.json()) as DeskStatement;
  console.log(
    `statement ${statement.statementId}: ${statement.captureEvents.length} capture and ${statement.refundEvents.length} refund event(s), totalDueByIntegrator ${statement.summary.totalDueByIntegrator}`,
  );
  const reply = await callIntegrator(
    url,
    "/v1/remittanceStatementNotification",
    statementNotificationBody(statement),
    {
      keyring,
    },
  );
  printReply(reply);
  if (reply.status !== 200) return 1;
  const acceptedUrl = new URL(
    `/stand-in/remittanceStatement/${encodeURIComponent(statement.paymentIntegratorAccountId)}/${encodeURIComponent(statement.statementId)}`,
    googleUrl,
  );
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const state = (await (await fetch(acceptedUrl)).json()) as { accepted: boolean };
    if (state.accepted) {
      console.log("accepted by the integrator (acceptRemittanceStatement received)");
      return 0;
    }
    await new Promise((r) => setTimeout(r, 200)); // poll interval of an observable condition
  }
  console.log(
    `not accepted within 20 s: see npm run ops -- statements show ${statement.paymentIntegratorAccountId} ${statement.statementId}`,
  );
  return 0;
}
