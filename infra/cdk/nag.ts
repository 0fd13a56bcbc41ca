import {
  type App,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  Validations,
} from "aws-cdk-lib";
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from "cdk-nag";

/**
 * A cdk-nag pack whose every unacknowledged finding is an error. cdk-nag reports some rules as
 * warnings, and once CDK itself drops an acknowledged finding from a pack's report (one
 * acknowledged in the `Pack::Rule` form CDK's report suggests), it passes that report if only
 * warnings are left. Here a finding is either acknowledged with a reason in code or fails synthesis.
 */
class EveryFindingFails implements IPolicyValidationPlugin {
  readonly name: string;
  readonly version: string | undefined;
  readonly ruleIds: string[] | undefined;
  readonly #pack: NagPack;

  constructor(pack: NagPack) {
    this.#pack = pack;
    this.name = pack.name;
    this.version = pack.version;
    this.ruleIds = pack.ruleIds;
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = this.#pack.validate(context);
    return {
      ...report,
      success: report.violations.length === 0,
      violations: report.violations.map((violation) => ({ ...violation, severity: "error" })),
    };
  }
}

/** cdk-nag's AwsSolutions and Serverless packs, run by `app.synth()` (and so by `cdk synth`). */
export function addNagChecks(app: App) {
  Validations.of(app).addPlugins(
    new EveryFindingFails(new AwsSolutionsChecks(app)),
    new EveryFindingFails(new ServerlessChecks(app)),
  );
}
