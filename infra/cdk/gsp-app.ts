import { Annotations, type App } from "aws-cdk-lib";
import {
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  type EnvironmentConfig,
  type EnvironmentName,
  environmentFile,
  findPlaceholders,
  parseEnvironment,
  parseSettings,
  readEnvironmentFile,
  selectEnvironments,
} from "./environments.ts";
import { GspStack } from "./gsp-stack.ts";
import { addNagChecks } from "./nag.ts";
import { GspPipelineStack, PipelineConfig, pipelineStackId } from "./pipeline.ts";

/** The stack id of an environment (`cdk deploy Gsp-prod`), and its CloudFormation name. */
export const stackId = (name: EnvironmentName) => `Gsp-${name}`;

/**
 * Whether an environment file may still hold example values: `-c allowPlaceholders=true|false`;
 * unset, only `-c env=all` (npm run synth, a check of the whole app, never a deployment) allows them.
 */
export function placeholdersAllowed(app: App, selector: unknown): boolean {
  const flag = app.node.tryGetContext("allowPlaceholders");
  if (flag === undefined) return selector === "all";
  return flag === true || flag === "true";
}

/** Refuses (or, where allowed, only warns about) example values left in the environments' files. */
export function checkPlaceholders<N extends string>(
  names: readonly N[],
  configs: Record<string, unknown>,
  allowed: boolean,
): Map<N, string[]> {
  const byName = new Map(names.map((name) => [name, findPlaceholders(name, configs[name])]));
  const found = [...byName.values()].flat();
  if (found.length > 0 && !allowed) {
    throw new Error(
      `${found.join("; ")}. (-c allowPlaceholders=true synthesizes anyway, for checks only: infra/cdk/DEPLOY.md, "Environment files")`,
    );
  }
  return byName;
}

/**
 * Adds the selected environments' stacks to `app`, each checked by cdk-nag at synthesis.
 * `configs` defaults to the files in infra/cdk/environments/; tests pass their own.
 */
export function addEnvironments(
  app: App,
  selector: unknown,
  configs: Record<EnvironmentName, unknown> = ENVIRONMENTS,
): GspStack[] {
  const names = selectEnvironments(selector);
  // Every environment is checked before any stack is built, so one bad config fails the whole synth.
  const checked = names.map((name) => ({ name, config: parseEnvironment(name, configs[name]) }));
  const placeholders = checkPlaceholders(names, configs, placeholdersAllowed(app, selector));
  addNagChecks(app);
  return checked.map(({ name, config }) => {
    const stack = new GspStack(app, stackId(name), {
      stackName: `gsp-${name}`,
      description: `Google Standard Payments integrator (${name})`,
      env: { account: config.account, region: config.region },
      terminationProtection: config.retainData,
      stage: name,
      config,
    });
    for (const sentence of placeholders.get(name) ?? []) {
      Annotations.of(stack).addWarningV2("gsp:placeholder", sentence);
    }
    return stack;
  });
}

/**
 * `-c pipeline=true`: the pipeline stack alone (infra/cdk/pipeline.ts), which deploys every
 * environment in its own account. Placeholders are refused unless `-c allowPlaceholders=true`.
 */
export function addPipeline(
  app: App,
  configs: Record<EnvironmentName, unknown> = ENVIRONMENTS,
  pipelineRaw: unknown = readEnvironmentFile("pipeline"),
): GspPipelineStack {
  const environments = Object.fromEntries(
    ENVIRONMENT_NAMES.map((name) => [name, parseEnvironment(name, configs[name])]),
  ) as Record<EnvironmentName, EnvironmentConfig>;
  const pipeline = parseSettings(PipelineConfig, "the pipeline", environmentFile("pipeline"), pipelineRaw);
  const flag = app.node.tryGetContext("allowPlaceholders");
  checkPlaceholders(
    [...ENVIRONMENT_NAMES, "pipeline"],
    { ...configs, pipeline: pipelineRaw },
    flag === true || flag === "true",
  );
  addNagChecks(app);
  return new GspPipelineStack(app, pipelineStackId, {
    env: { account: pipeline.account, region: pipeline.region },
    description: "Delivery pipeline of the Google Standard Payments integrator (dev → sandbox → prod)",
    pipeline,
    environments,
  });
}
