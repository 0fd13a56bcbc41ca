/**
 * The checks of `npm run smoke`: what proves a stage works after a deploy. Non-prod: our /v1/echo
 * signed by the smoke key, a capture, its replay and its refund on the dedicated smoke account, and
 * (where a stand-in endpoint receives notifications) an asynchronous capture notified and refunded.
 * Prod, where only Google may sign to us: our outbound echo to Google, and a read-only health check.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { DynamoCaptureStore } from "../../shared/adapters/dynamodb/capture-store.ts";
import { idempotencyKey } from "../../shared/domain/idempotency.ts";
import type { Keyring } from "../../shared/security/keyring.ts";
import {
  asynchronousCaptureBody,
  callIntegrator,
  captureBody,
  echoBody,
  type GoogleReply,
  newRequestId,
  refundBody,
} from "../google/client.ts";
import { echoGoogle } from "../ops/google-commands.ts";
import type { Target } from "../ops/target.ts";

/** What every non-prod check needs: where, who signs, which account. */
export interface SmokePlan {
  /** The Google-facing API's base URL. */
  url: string;
  piaid: string;
  currency: string;
  amount: string;
  googlePaymentToken: string;
  /** Signs as "Google" with the smoke key, and opens our answers (encrypted to every key Google's keyring holds). */
  keyring: Keyring;
  /** The asynchronous check, where a stand-in endpoint receives this stage's notifications. */
  asynchronous?: { vpa: string; outcomeToken: string; target: Target; timeoutMs: number };
}

export type Outcome = { status: "ok" | "skip"; detail: string };
export interface Check {
  name: string;
  run(): Promise<Outcome>;
}

export class CheckFailed extends Error {}

const ok = (detail: string): Outcome => ({ status: "ok", detail });
const ms = (started: number) => `${Math.round(performance.now() - started)} ms`;

/** The reply, or a CheckFailed naming what came back instead (never a body: it may carry identifiers). */
function expect200(reply: GoogleReply, what: string): Record<string, unknown> {
  if (reply.status !== 200 || !reply.sealed) {
    const code = reply.body.errorResponseCode ?? "no errorResponseCode";
    throw new CheckFailed(`${what}: HTTP ${reply.status}${reply.sealed ? "" : " (bare)"}, ${code}`);
  }
  return reply.body;
}

function expectResult(body: Record<string, unknown>, result: string, what: string) {
  if (body.result !== result)
    throw new CheckFailed(`${what}: result ${String(body.result)}, expected ${result}`);
}

/** Echo, capture, replay, refund (and the asynchronous round trip): each check feeds the next. */
export function nonProdChecks(plan: SmokePlan): Check[] {
  const call = (path: string, body: unknown) =>
    callIntegrator(plan.url, path, body, { keyring: plan.keyring });
  const money = { piaid: plan.piaid, amount: plan.amount, currency: plan.currency };
  const captureRequestId = newRequestId("smoke");
  let capture: { body: Record<string, unknown>; request: Record<string, unknown> } | undefined;

  const refund = async (captureId: string, what: string) => {
    const body = expect200(
      await call(
        "/v1/refund",
        refundBody({
          ...money,
          captureRequestId: captureId,
          refundAmount: plan.amount,
          requestId: newRequestId("smoke-refund"),
        }),
      ),
      what,
    );
    expectResult(body, "SUCCESS", what);
  };

  const checks: Check[] = [
    {
      name: "echo",
      async run() {
        const started = performance.now();
        const message = `smoke ${new Date().toISOString()}`;
        const body = expect200(await call("/v1/echo", echoBody(message)), "echo");
        if (body.clientMessage !== message)
          throw new CheckFailed("echo: the answer did not carry our clientMessage back");
        return ok(`/v1/echo answered our clientMessage, signed by the integrator, verified (${ms(started)})`);
      },
    },
    {
      name: "capture",
      async run() {
        const started = performance.now();
        const request = captureBody({
          ...money,
          googlePaymentToken: plan.googlePaymentToken,
          requestId: captureRequestId,
        });
        const body = expect200(await call("/v1/capture", request), "capture");
        expectResult(body, "SUCCESS", "capture");
        capture = { body, request };
        return ok(
          `${plan.amount} micros ${plan.currency} captured from the smoke account: SUCCESS (${ms(started)})`,
        );
      },
    },
    {
      name: "replay",
      async run() {
        if (!capture) throw new CheckFailed("replay: no capture to replay (the capture check failed)");
        const body = expect200(await call("/v1/capture", capture.request), "replay");
        if (body.paymentIntegratorTransactionId !== capture.body.paymentIntegratorTransactionId) {
          throw new CheckFailed("replay: a different paymentIntegratorTransactionId than the capture's");
        }
        return ok(
          "the same capture again was answered from its record: same transaction id, no second debit",
        );
      },
    },
    {
      name: "refund",
      async run() {
        if (!capture) throw new CheckFailed("refund: no capture to refund (the capture check failed)");
        await refund(captureRequestId, "refund");
        return ok("the capture refunded in full: SUCCESS (the smoke account's balance is back where it was)");
      },
    },
  ];
  const asynchronous = plan.asynchronous;
  checks.push({
    name: "asynchronous-notification",
    async run() {
      if (!asynchronous) {
        return {
          status: "skip",
          detail: "no stand-in endpoint receives this stage's notifications (they go to Google)",
        };
      }
      const started = performance.now();
      const id = newRequestId("smoke-async");
      const ack = expect200(
        await call(
          "/v1/asynchronousCapture",
          asynchronousCaptureBody({ ...money, vpa: asynchronous.vpa, requestId: id }),
        ),
        "asynchronousCapture",
      );
      expectResult(ack, "ACKNOWLEDGED", "asynchronousCapture");
      const outcome = await fetch(new URL("/internal/v1/captureOutcome", plan.url), {
        method: "POST",
        headers: { authorization: `Bearer ${asynchronous.outcomeToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          paymentIntegratorAccountId: plan.piaid,
          captureRequestId: id,
          outcome: "APPROVED",
        }),
      });
      await outcome.arrayBuffer();
      if (outcome.status !== 200) throw new CheckFailed(`captureOutcome: HTTP ${outcome.status}`);
      const store = new DynamoCaptureStore(asynchronous.target.db, asynchronous.target.tables);
      const deadline = Date.now() + asynchronous.timeoutMs;
      for (;;) {
        const record = await store.get(idempotencyKey(plan.piaid, id));
        if (record?.notification?.state === "NOTIFIED") break;
        if (Date.now() > deadline) {
          const tries = record?.notification?.attempts.length ?? 0;
          throw new CheckFailed(
            `the notification was not delivered within ${asynchronous.timeoutMs} ms (${tries} tries)`,
          );
        }
        await delay(100);
      }
      await refund(id, "asynchronous refund");
      return ok(`acknowledged, approved, notified to the stand-in endpoint and refunded (${ms(started)})`);
    },
  });
  return checks;
}

/** Prod: nothing signed as Google, nothing that moves money or writes a record. */
export function readOnlyChecks(url: string, target: Target): Check[] {
  return [
    {
      name: "google-echo",
      async run() {
        const echo = await echoGoogle(target, { message: `smoke ${new Date().toISOString()}` });
        if (!echo.ok) {
          throw new CheckFailed(
            `Google's echo at ${echo.baseUrl}: ${echo.reason}${echo.configuration ? " (Google could not verify us: npm run ops -- google echo says what to check)" : ""}`,
          );
        }
        return ok(`Google's echo at ${echo.baseUrl} verified us for ${echo.piaid} (${echo.roundTripMs} ms)`);
      },
    },
    {
      name: "health",
      async run() {
        const started = performance.now();
        // An unsealed body: the edge refuses it before any table is read, which proves DNS, TLS, WAF, API and function answer.
        const reply = await callIntegrator(url, "/v1/echo", {}, { keyring: undefined });
        if (reply.status !== 400 || reply.body.errorResponseCode !== "INVALID_PAYLOAD_ENCRYPTION") {
          throw new CheckFailed(
            `health: HTTP ${reply.status} ${String(reply.body.errorResponseCode ?? "")}, expected 400 INVALID_PAYLOAD_ENCRYPTION`,
          );
        }
        return ok(
          `${url}/v1/echo answered an unsealed body with 400 INVALID_PAYLOAD_ENCRYPTION, reading nothing (${ms(started)})`,
        );
      },
    },
  ];
}

/** Runs the checks in order, one line each; true when none failed. */
export async function runChecks(
  checks: Check[],
  print: (line: string) => void,
): Promise<{ ok: number; failed: number; skipped: number }> {
  const counts = { ok: 0, failed: 0, skipped: 0 };
  for (const check of checks) {
    try {
      const outcome = await check.run();
      counts[outcome.status === "ok" ? "ok" : "skipped"] += 1;
      print(`${outcome.status === "ok" ? "ok  " : "skip"} ${check.name}: ${outcome.detail}`);
    } catch (error) {
      counts.failed += 1;
      const reason = error instanceof CheckFailed ? error.message : `unexpected: ${(error as Error).message}`;
      print(`FAIL ${check.name}: ${reason}`);
    }
  }
  return counts;
}
