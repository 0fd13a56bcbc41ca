/**
 * `google echo`: calls Google's own echo method with our keys — the check an operator runs before
 * go-live and after every key rotation: can Google verify us (keys, PIAID, network)?
 */
import { performance } from "node:perf_hooks";
import { googleCaller } from "../../shared/adapters/google/google-client.ts";
import { echoBody } from "../google/client.ts";
import { type Command, EXIT, usage } from "./command.ts";
import { depsOn, runtimeOf } from "./statement-commands.ts";
import type { Target } from "./target.ts";

const fingerprints = (keys: { getFingerprint(): string }[]) =>
  keys.map((k) => k.getFingerprint().toUpperCase());

export interface GoogleEcho {
  ok: boolean;
  piaid: string;
  baseUrl: string;
  roundTripMs: number;
  signedWith: string[];
  encryptedTo: string[];
  serverMessage?: unknown;
  reason?: string;
  /** Google answered an empty 404: it could not verify us (keys or PIAID). */
  configuration?: boolean;
}

/** Google's echo with the target's own keys and Google URL (the ops command, and the prod smoke test). */
export async function echoGoogle(
  target: Target,
  options: { piaid?: string; message?: string } = {},
): Promise<GoogleEcho> {
  const config = runtimeOf(target);
  const piaid = options.piaid ?? Object.keys(config.piaids)[0];
  if (!piaid) throw usage("no PIAID: pass --piaid P");
  const deps = depsOn(target);
  if (!deps.keyring) throw usage("this target has no keys (plain JSON): nothing to check");
  const keyring = await deps.keyring.get();
  const call = googleCaller({
    baseUrl: config.googleBaseUrl,
    keyring: () => deps.keyring!.get(),
    timeoutMs: config.notify.timeoutMs,
  });
  const message = options.message ?? `ops echo ${new Date().toISOString()}`;
  const started = performance.now();
  const answer = await call("echo", piaid, echoBody(message));
  const roundTripMs = Math.round(performance.now() - started);
  const keys = { signedWith: fingerprints(keyring.own), encryptedTo: fingerprints(keyring.peer) };
  const common = { piaid, baseUrl: config.googleBaseUrl, roundTripMs, ...keys };
  if (answer.ok && answer.body.clientMessage === message) {
    return { ok: true, ...common, serverMessage: answer.body.serverMessage };
  }
  const reason = answer.ok ? "the answer did not carry our clientMessage back" : answer.reason;
  return { ok: false, ...common, reason, configuration: !answer.ok && answer.configuration };
}

export const googleCommands: Command<unknown>[] = [
  {
    name: "google echo",
    synopsis: "[--piaid P] [--message TEXT]",
    summary: "call Google's echo with our keys: can Google verify us? (before go-live, after every rotation)",
    help: `Signs with our keys and encrypts to Google's, as every call to Google, and says whether Google could
verify us, how long the round trip took and which keys were used. A 404 with an empty body means
Google could not verify us: check (1) that Google holds our current public key, (2) that the PIAID is
the one Google gave this environment, (3) that the Google public key we encrypt to is Google's current one.`,
    options: {
      piaid: { type: "string", description: "the PIAID to echo for (default: the first this target serves)" },
      message: { type: "string", description: "the clientMessage (default: a timestamped probe)" },
    },
    run: async (ctx) => {
      const echo = await echoGoogle(ctx.target, {
        ...(typeof ctx.values.piaid === "string" && { piaid: ctx.values.piaid }),
        ...(typeof ctx.values.message === "string" && { message: ctx.values.message }),
      });
      const { ok: _ok, baseUrl, ...result } = echo;
      ctx.print(`Google echo at ${baseUrl} for ${echo.piaid}: round trip ${echo.roundTripMs} ms`);
      ctx.print(
        `signed with our key(s) ${echo.signedWith.join(", ")}; encrypted to Google's ${echo.encryptedTo.join(", ")}`,
      );
      if (echo.ok) {
        ctx.print(
          `OK: Google verified us and answered (serverMessage ${JSON.stringify(echo.serverMessage)})`,
        );
        ctx.result({ ok: true, ...result });
        return EXIT.OK;
      }
      ctx.print(`FAILED: ${echo.reason}`);
      if (echo.configuration) {
        ctx.print("Google could not verify us. Check, in this order:");
        ctx.print("  1. Google holds our current public key (the fingerprints above) for this environment;");
        ctx.print(`  2. ${echo.piaid} is the PIAID Google gave this environment;`);
        ctx.print("  3. the Google public key we encrypt to (above) is Google's current one.");
      }
      ctx.result({ ok: false, ...result });
      return EXIT.FAILED;
    },
  },
];
