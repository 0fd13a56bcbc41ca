/**
 * The delivery pipeline (`-c pipeline=true`): CDK Pipelines in a tooling account. Source → npm ci,
 * npm test, synth (cdk-nag gates it) → dev → sandbox → prod, each stage in its own account, a
 * `cdk diff` of each stage before it deploys (prod: before its manual approval), the smoke test
 * after each deploy. It updates itself first on every change (self-mutation). infra/cdk/DEPLOY.md, "Pipeline".
 */
import { Stack, type StackProps, Stage, type StageProps, Validations } from "aws-cdk-lib";
import { CfnProject, ComputeType, LinuxArmBuildImage } from "aws-cdk-lib/aws-codebuild";
import { Repository } from "aws-cdk-lib/aws-codecommit";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { CfnBucket } from "aws-cdk-lib/aws-s3";
import {
  CodeBuildStep,
  CodePipeline,
  CodePipelineSource,
  ManualApprovalStep,
  type ShellStep,
  type StageDeployment,
  type Step,
} from "aws-cdk-lib/pipelines";
import type { Construct } from "constructs";
import * as v from "valibot";
import { ENVIRONMENT_NAMES, type EnvironmentConfig, type EnvironmentName } from "./environments.ts";
import { GspStack } from "./gsp-stack.ts";

/** The CDK CLI the steps run (package.json's aws-cdk), so the pipeline diffs with the version that synthesized. */
export const CDK_CLI_VERSION = "2.1148.1";
/** CDK's default bootstrap qualifier: the roles `cdk bootstrap --trust <pipeline account>` creates in each stage account. */
const QUALIFIER = "hnb659fds";

const account = v.pipe(v.string(), v.regex(/^\d{12}$/, "must be a 12-digit AWS account id"));
const branch = v.pipe(v.string(), v.minLength(1));

/** infra/cdk/environments/pipeline.json: where the pipeline runs and what it builds. */
export const PipelineConfig = v.strictObject({
  /** The tooling account the pipeline lives in (no stage of the service runs there). */
  account,
  region: v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region")),
  source: v.variant("kind", [
    v.strictObject({
      kind: v.literal("codestar-connection"),
      /** A CodeStar (CodeConnections) connection to GitHub, GitLab or Bitbucket, created and approved in the console. */
      connectionArn: v.pipe(
        v.string(),
        v.regex(
          /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]+$/,
          "must be a connection ARN",
        ),
      ),
      /** owner/name */
      repository: v.pipe(v.string(), v.regex(/^[\w.-]+\/[\w.-]+$/, "must be owner/name")),
      branch,
    }),
    v.strictObject({
      kind: v.literal("codecommit"),
      repositoryName: v.pipe(v.string(), v.minLength(1)),
      branch,
    }),
  ]),
});
export type PipelineConfig = v.InferOutput<typeof PipelineConfig>;

export const pipelineStackId = "GspPipeline";
/** The role in each stage account that the smoke step assumes (created by that stage's stack). */
export const smokeRoleName = (stage: string) => `gsp-${stage}-smoke`;

/** One environment as the pipeline deploys it: its stack, named as a hand deploy names it (gsp-<env>). */
export class GspStage extends Stage {
  readonly stack: GspStack;
  constructor(
    scope: Construct,
    id: string,
    props: StageProps & { name: EnvironmentName; config: EnvironmentConfig; pipelineAccount: string },
  ) {
    super(scope, id, props);
    this.stack = new GspStack(this, "Gsp", {
      stackName: `gsp-${props.name}`,
      description: `Google Standard Payments integrator (${props.name})`,
      terminationProtection: props.config.retainData,
      stage: props.name,
      config: props.config,
      smokeRunnerAccount: props.pipelineAccount,
    });
  }
}

const codeBuildEnvironment = {
  // Node 24 comes from the project's own `node` dev dependency (npm ci); Java runs DynamoDB Local for npm test.
  buildImage: LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
  computeType: ComputeType.MEDIUM,
};

export interface GspPipelineStackProps extends StackProps {
  pipeline: PipelineConfig;
  environments: Record<EnvironmentName, EnvironmentConfig>;
}

export class GspPipelineStack extends Stack {
  readonly pipeline: CodePipeline;
  readonly synth: ShellStep;
  readonly source: CodePipelineSource;
  readonly stages: Record<EnvironmentName, { stage: GspStage; deployment: StageDeployment }>;

  constructor(scope: Construct, id: string, props: GspPipelineStackProps) {
    super(scope, id, props);
    const { source: s } = props.pipeline;
    this.source =
      s.kind === "codestar-connection"
        ? CodePipelineSource.connection(s.repository, s.branch, { connectionArn: s.connectionArn })
        : CodePipelineSource.codeCommit(
            Repository.fromRepositoryName(this, "Repository", s.repositoryName),
            s.branch,
          );
    const source = this.source;

    this.synth = new CodeBuildStep("Synth", {
      input: source,
      buildEnvironment: codeBuildEnvironment,
      installCommands: ["npm ci"],
      // npm test is the whole suite on the real local stack; cdk synth fails on any cdk-nag finding and any placeholder.
      commands: ["npm test", "npm run cdk -- synth -c pipeline=true -q"],
      primaryOutputDirectory: "cdk.out",
    });
    this.pipeline = new CodePipeline(this, "Pipeline", {
      pipelineName: "gsp-integrator",
      synth: this.synth,
      crossAccountKeys: true,
      enableKeyRotation: true,
      selfMutation: true,
      dockerEnabledForSynth: false,
      dockerEnabledForSelfMutation: false,
      codeBuildDefaults: { buildEnvironment: codeBuildEnvironment },
    });

    const stages = {} as Record<EnvironmentName, { stage: GspStage; deployment: StageDeployment }>;
    for (const name of ENVIRONMENT_NAMES) {
      const config = props.environments[name];
      const stage = new GspStage(this, capitalized(name), {
        env: { account: config.account, region: config.region },
        name,
        config,
        pipelineAccount: props.pipeline.account,
      });
      const diff = this.diffStep(stage, config);
      const pre: Step[] = [diff];
      if (name === "prod") {
        const approval = new ManualApprovalStep("Approve", {
          comment: `Read the Diff step's log (the change about to reach prod, account ${config.account}) and the sandbox smoke test's, then approve.`,
        });
        approval.addStepDependency(diff);
        pre.push(approval);
      }
      const deployment = this.pipeline.addStage(stage, { pre, post: [this.smokeStep(name, stage, config)] });
      stages[name] = { stage, deployment };
    }
    this.stages = stages;
    this.pipeline.buildPipeline();
    this.acknowledgeGeneratedFindings(props.pipeline);
  }

  /**
   * CDK Pipelines writes the pipeline's roles itself: artifact-bucket and CodeBuild-log rights with
   * wildcards scoped to its own bucket, key, projects and log groups. Acknowledged here, on the
   * pipeline's subtree only; the steps' own statements (sts:AssumeRole on named roles) carry none.
   */
  private acknowledgeGeneratedFindings({ account, region }: PipelineConfig) {
    const scope = Validations.of(this.pipeline);
    const artifacts =
      "CDK Pipelines' own grants on its artifact bucket and its KMS key (object-level actions need the wildcard suffixes)";
    for (const action of [
      "s3:GetBucket*",
      "s3:GetObject*",
      "s3:List*",
      "s3:Abort*",
      "s3:DeleteObject*",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]) {
      scope.acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: artifacts });
    }
    const bucket = this.pipeline.pipeline.artifactBucket.node.defaultChild as CfnBucket;
    scope.acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(bucket)}.Arn>/*]`,
      reason: artifacts,
    });
    scope.acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "CDK Pipelines' pipeline and asset roles: codepipeline:PutJobSuccessResult-style and cloudformation:Describe* actions take no resource",
    });
    scope.acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:*:iam::${account}:role/*]`,
      reason:
        "Self-mutation and asset publishing assume the CDK bootstrap roles (cdk-hnb659fds-*), whose names CDK Pipelines matches by pattern",
    });
    const codebuild =
      "Each CodeBuild project writes its own log group and report groups, named after the project";
    scope.acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:aws:logs:${region}:${account}:log-group:/aws/codebuild/*]`,
      reason: codebuild,
    });
    scope.acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:aws:codebuild:${region}:${account}:report-group/*]`,
      reason: codebuild,
    });
    for (const project of this.node.findAll().filter((c): c is CfnProject => c instanceof CfnProject)) {
      const id = this.getLogicalId(project);
      scope.acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:aws:logs:${region}:${account}:log-group:/aws/codebuild/<${id}>:*]`,
        reason: codebuild,
      });
      scope.acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:aws:codebuild:${region}:${account}:report-group/<${id}>-*]`,
        reason: codebuild,
      });
    }
    Validations.of(this.pipeline.pipeline.artifactBucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "The artifact bucket holds only build outputs (KMS-encrypted, SSL enforced) written and read by the pipeline's own roles; CloudTrail records who touches it",
    });
  }

  /** `cdk diff` of the stage's stack against what runs in its account, from the synthesized assembly. */
  private diffStep(stage: GspStage, config: EnvironmentConfig) {
    const roles = ["lookup", "deploy"].map(
      (kind) =>
        `arn:aws:iam::${config.account}:role/cdk-${QUALIFIER}-${kind}-role-${config.account}-${config.region}`,
    );
    return new CodeBuildStep("Diff", {
      input: this.synth,
      // The synthesized assembly is what deploys next; its diff is the change to read.
      commands: [`npx --yes aws-cdk@${CDK_CLI_VERSION} diff --app ${stage.artifactId} --ci`],
      rolePolicyStatements: [new PolicyStatement({ actions: ["sts:AssumeRole"], resources: roles })],
    });
  }

  /** `npm run smoke` in the stage's account, through the role its stack made for the pipeline account. */
  private smokeStep(name: EnvironmentName, stage: GspStage, config: EnvironmentConfig) {
    const role = `arn:aws:iam::${config.account}:role/${smokeRoleName(name)}`;
    return new CodeBuildStep("Smoke", {
      input: this.source,
      installCommands: ["npm ci"],
      envFromCfnOutputs: { GSP_URL: stage.stack.googleApi.urlOutput },
      env: { SMOKE_ROLE_ARN: role, AWS_REGION: config.region },
      commands: [
        // The SDK assumes the stage's smoke role from CodeBuild's own credentials (credential_source).
        'mkdir -p ~/.aws && printf "[profile smoke]\\nrole_arn = %s\\ncredential_source = EcsContainer\\n" "$SMOKE_ROLE_ARN" > ~/.aws/config',
        `AWS_PROFILE=smoke npm run smoke -- --env ${name} --url "$GSP_URL"`,
      ],
      rolePolicyStatements: [new PolicyStatement({ actions: ["sts:AssumeRole"], resources: [role] })],
    });
  }
}

const capitalized = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}`;
