import { Validations } from "aws-cdk-lib";
import type { IAlarm } from "aws-cdk-lib/aws-cloudwatch";
import { LambdaApplication, LambdaDeploymentConfig, LambdaDeploymentGroup } from "aws-cdk-lib/aws-codedeploy";
import { Construct } from "constructs";
import type { FunctionName } from "../../resources.ts";
import type { GspFunction } from "./gsp-function.ts";

export interface CanaryReleasesProps {
  /** Prefix of the application and group names, e.g. gsp-prod-. */
  prefix: string;
  /** Each canaried function (it has a `live` alias) with the alarms that roll its release back. */
  functions: { fn: GspFunction; alarms: IAlarm[] }[];
}

/** How a new version takes traffic: 10 % for 5 minutes, then all of it, unless an alarm fires first. */
export const CANARY_CONFIG = LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES;

/**
 * One CodeDeploy deployment group per canaried function: each deploy shifts its `live` alias to
 * the new version by CANARY_CONFIG and rolls back by itself when one of the function's alarms
 * fires, or when the deployment fails or is stopped (infra/cdk/DEPLOY.md, "Canary releases").
 */
export class CanaryReleases extends Construct {
  readonly application: LambdaApplication;
  readonly groups = new Map<FunctionName, LambdaDeploymentGroup>();

  constructor(scope: Construct, id: string, props: CanaryReleasesProps) {
    super(scope, id);
    this.application = new LambdaApplication(this, "Application", {
      applicationName: `${props.prefix}functions`,
    });
    for (const { fn, alarms } of props.functions) {
      if (!fn.alias) throw new Error(`${fn.name}: a canary release needs the function's live alias`);
      const group = new LambdaDeploymentGroup(this, fn.node.id, {
        application: this.application,
        deploymentGroupName: `${props.prefix}${fn.name}`,
        alias: fn.alias,
        deploymentConfig: CANARY_CONFIG,
        alarms,
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
      this.groups.set(fn.name, group);
      Validations.of(group).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
        reason:
          "CodeDeploy's documented role policy for Lambda deployments: it may only read and update the aliases of functions it deploys and publish to topics named CodeDeployTopic*",
      });
    }
  }
}
