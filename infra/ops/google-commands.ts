/**
 * `google echo`: calls Google's own echo method with our keys — the check an operator runs before
 * go-live and after every key rotation: can Google verify us (keys, PIAID, network)?
 */
import { performance } from "node:perf_hooks";
import { googleCaller } from "../../shared/adapters/google/google-client.ts";
import { echoBody } from "../google/client.ts";
import { type Command, EXIT, usage } from "./command.ts";
import { depsOn, runtimeOf } from "./statement-commands.ts";

const fingerprints = (keys: { getFingerprint(): string }[]) =>
  keys.map((k) => k.getFingerprint().toUpperCase());

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
      const config = runtimeOf(ctx.target);
      const piaid = typeof ctx.values.piaid === "string" ? ctx.values.piaid : Object.keys(config.piaids)[0];
      if (!piaid) throw usage("no PIAID: pass --piaid P");
      const deps = depsOn(ctx.target);
      if (!deps.keyring) throw usage("this target has no keys (plain JSON): nothing to check");
      const keyring = await deps.keyring.get();
      const call = googleCaller({
        baseUrl: config.googleBaseUrl,
        keyring: () => deps.keyring!.get(),
        timeoutMs: config.notify.timeoutMs,
      });
      const message =
        typeof ctx.values.message === "string" ? ctx.values.message : `ops echo ${new Date().toISOString()}`;
      const started = performance.now();
      const answer = await call("echo", piaid, echoBody(message));
      const roundTripMs = Math.round(performance.now() - started);
      const keys = { signedWith: fingerprints(keyring.own), encryptedTo: fingerprints(keyring.peer) };
      ctx.print(`Google echo at ${config.googleBaseUrl} for ${piaid}: round trip ${roundTripMs} ms`);
      ctx.print(
        `signed with our key(s) ${keys.signedWith.join(", ")}; encrypted to Google's ${keys.encryptedTo.join(", ")}`,
      );
      if (answer.ok && answer.body.clientMessage === message) {
        ctx.print(
          `OK: Google verified us and answered (serverMessage ${JSON.stringify(answer.body.serverMessage)})`,
        );
        ctx.result({ ok: true, piaid, roundTripMs, ...keys, serverMessage: answer.body.serverMessage });
        return EXIT.OK;
      }
      const reason = answer.ok ? "the answer did not carry our clientMessage back" : answer.reason;
      ctx.print(`FAILED: ${reason}`);
      if (!answer.ok && answer.configuration) {
        ctx.print("Google could not verify us. Check, in this order:");
        ctx.print("  1. Google holds our current public key (the fingerprints above) for this environment;");
        ctx.print(`  2. ${piaid} is the PIAID Google gave this environment;`);
        ctx.print("  3. the Google public key we encrypt to (above) is Google's current one.");
      }
      ctx.result({
        ok: false,
        piaid,
        roundTripMs,
        ...keys,
        reason,
        configuration: !answer.ok && answer.configuration,
      });
      return EXIT.FAILED;
    },
  },
];
