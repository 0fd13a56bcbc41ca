import type { App } from "aws-cdk-lib";
import { ENVIRONMENTS, type EnvironmentName, parseEnvironment, selectEnvironments } from "./environments.ts";
import { GspStack } from "./gsp-stack.ts";
import { addNagChecks } from "./nag.ts";

/** The stack id of an environment (`cdk deploy Gsp-prod`), and its CloudFormation name. */
export const stackId = (name: EnvironmentName) => `Gsp-${name}`;

/**
 * Adds the selected environments' stacks to `app`, each checked by cdk-nag at synthesis.
 * `configs` defaults to infra/cdk/environments.ts; tests pass their own.
 */
export function addEnvironments(
  app: App,
  selector: unknown,
  configs: Record<EnvironmentName, unknown> = ENVIRONMENTS,
): GspStack[] {
  const names = selectEnvironments(selector);
  // Every environment is checked before any stack is built, so one bad config fails the whole synth.
  const checked = names.map((name) => ({ name, config: parseEnvironment(name, configs[name]) }));
  addNagChecks(app);
  return checked.map(
    ({ name, config }) =>
      new GspStack(app, stackId(name), {
        stackName: `gsp-${name}`,
        description: `Google Standard Payments integrator (${name})`,
        env: { account: config.account, region: config.region },
        terminationProtection: config.retainData,
        stage: name,
        config,
      }),
  );
}
