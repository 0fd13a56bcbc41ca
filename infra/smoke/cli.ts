/**
 * `npm run smoke -- --env NAME`: proves a stage works, after each deploy (the pipeline) or by hand.
 * One line per check, exit 1 if any failed (2: refused before checking). `--env local` checks the
 * running local stack (.local/stack.json); dev and sandbox run the money checks with their smoke
 * key and account; prod (or `--read-only`) only our outbound Google echo and a health check.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { fileKeySource, type KeySource, secretsManagerKeySource } from "../../shared/security/key-source.ts";
import { loadKeyring } from "../../shared/security/keyring.ts";
import {
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  type EnvironmentName,
  parseEnvironment,
} from "../cdk/environments.ts";
import { KEY_FILES } from "../local/keys.ts";
import { resolveTarget, type Target } from "../ops/target.ts";
import { type Check, nonProdChecks, readOnlyChecks, runChecks } from "./checks.ts";
import { addLocalSmokeKey, SMOKE_KEY_FILE } from "./keys.ts";

/** The local demo ledger's smoke account (infra/local/fixtures/demo-ledger.json). */
const LOCAL_SMOKE_ACCOUNT = { googlePaymentToken: "gpt-smoke", vpa: "smoke@demobank", amount: "1000000" };
const NOTIFIED_WITHIN_MS = 30_000;

const USAGE = `usage: npm run smoke -- --env <local|${ENVIRONMENT_NAMES.join("|")}> [options]

  --env local            the running local stack (.local/stack.json, or --stack-file)
  --env dev|sandbox      echo with the smoke key, capture + replay + refund of the smoke account
  --env prod             Google's echo with our keys, and a read-only health check (nothing moves)
  --read-only            the prod checks on any stage
  --url <base>           the Google-facing API (default: GSP_URL, the stack file's, or https://<customDomain>)
  --keys <dir>           local: the folder with ${SMOKE_KEY_FILE} and ${KEY_FILES.integratorPublic} (default the stack's)
  --add-local-smoke-key  local: make ${SMOKE_KEY_FILE} and append its public key to ${KEY_FILES.googlePublic} first
  --stack-file <path>    local: the running stack's description (default .local/stack.json)`;

class Refused extends Error {}

async function keyringFrom(source: KeySource) {
  return loadKeyring(await source.read(), { own: "smoke private", peer: "integrator public" });
}

async function plan(
  values: Record<string, string | boolean | undefined>,
  target: Target,
): Promise<{ where: string; checks: Check[] }> {
  const env = values.env as string;
  if (env === "local") {
    const stack = target.stack!;
    const url = (values.url as string | undefined) ?? process.env.GSP_URL ?? stack.url;
    if (!url) throw new Refused("the stack file names no url: pass --url");
    if (values["read-only"]) return { where: `local stack at ${url}`, checks: readOnlyChecks(url, target) };
    const keysDir = (values.keys as string | undefined) ?? stack.keysDir;
    if (!keysDir)
      throw new Refused("the local stack has no keys folder (plain JSON): the smoke test signs as Google");
    if (values["add-local-smoke-key"] && (await addLocalSmokeKey(keysDir))) {
      console.error(
        `wrote ${SMOKE_KEY_FILE} in ${keysDir} and appended its public key to ${KEY_FILES.googlePublic}`,
      );
    }
    if (!existsSync(join(keysDir, SMOKE_KEY_FILE))) {
      throw new Refused(
        `no ${SMOKE_KEY_FILE} in ${keysDir}: run once with --add-local-smoke-key (the local Google keyring then trusts it)`,
      );
    }
    const [piaid, currency] = Object.entries(stack.piaids ?? { InvisiCashIN_INR: "INR" })[0]!;
    const keyring = await keyringFrom(
      fileKeySource(keysDir, { own: SMOKE_KEY_FILE, peer: KEY_FILES.integratorPublic }),
    );
    return {
      where: `local stack at ${url}`,
      checks: nonProdChecks({
        url,
        piaid,
        currency,
        amount: LOCAL_SMOKE_ACCOUNT.amount,
        googlePaymentToken: LOCAL_SMOKE_ACCOUNT.googlePaymentToken,
        keyring,
        ...(stack.standInGoogle &&
          stack.outcomeToken && {
            asynchronous: {
              vpa: LOCAL_SMOKE_ACCOUNT.vpa,
              outcomeToken: stack.outcomeToken,
              target,
              timeoutMs: NOTIFIED_WITHIN_MS,
            },
          }),
      }),
    };
  }
  const config = parseEnvironment(env, ENVIRONMENTS[env as EnvironmentName]);
  const url =
    (values.url as string | undefined) ??
    process.env.GSP_URL ??
    (config.customDomain ? `https://${config.customDomain.domainName}` : undefined);
  if (!url)
    throw new Refused(`environment ${env} has no customDomain: pass --url (its GoogleApi…Url output)`);
  const where = `environment ${env} at ${url}`;
  if (values["read-only"] || !config.smoke) return { where, checks: readOnlyChecks(url, target) };
  const [piaid, currency] = Object.entries(config.piaids)[0]!;
  const secrets = new SecretsManagerClient({});
  try {
    const keyring = await keyringFrom(
      secretsManagerKeySource(secrets, {
        own: config.smoke.keySecret,
        peer: config.smoke.integratorPublicKeySecret,
      }),
    );
    return {
      where,
      checks: nonProdChecks({
        url,
        piaid,
        currency,
        amount: config.smoke.amount,
        googlePaymentToken: config.smoke.googlePaymentToken,
        keyring,
      }),
    };
  } finally {
    secrets.destroy();
  }
}

async function main(): Promise<number> {
  // The keyrings' code must not print EMF metrics into the smoke test's one line per check.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        env: { type: "string" },
        url: { type: "string" },
        keys: { type: "string" },
        "read-only": { type: "boolean" },
        "add-local-smoke-key": { type: "boolean" },
        "stack-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const env = values.env;
  if (
    typeof env !== "string" ||
    !(env === "local" || (ENVIRONMENT_NAMES as readonly string[]).includes(env))
  ) {
    console.error(`choose a stage with --env (got ${JSON.stringify(env ?? null)})\n${USAGE}`);
    return 2;
  }
  let target: Target;
  try {
    target = await resolveTarget(
      env === "local"
        ? { ...(typeof values["stack-file"] === "string" && { "stack-file": values["stack-file"] }) }
        : { env },
    );
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
  try {
    const { where, checks } = await plan(values, target);
    console.log(`smoke: ${where}`);
    const counts = await runChecks(checks, (line) => console.log(line));
    console.log(`smoke: ${counts.ok} ok, ${counts.failed} failed, ${counts.skipped} skipped`);
    return counts.failed > 0 ? 1 : 0;
  } catch (error) {
    console.error((error as Error).message);
    return error instanceof Refused ? 2 : 1;
  } finally {
    target.close();
  }
}

process.exitCode = await main();
