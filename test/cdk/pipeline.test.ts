/**
 * The delivery pipeline (`-c pipeline=true`), synthesized with real bundles and cdk-nag: its stages
 * in order, each environment in its own account, a diff before each deploy and the approval after
 * prod's diff, the smoke test after each deploy, self-mutation; and the smoke role each stage makes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Template } from "aws-cdk-lib/assertions";
import { ENVIRONMENT_NAMES, ENVIRONMENTS, parseEnvironment } from "../../infra/cdk/environments.ts";
import { addPipeline } from "../../infra/cdk/gsp-app.ts";
import { CDK_CLI_VERSION, type GspPipelineStack } from "../../infra/cdk/pipeline.ts";
import { asList, iamStatements, newApp } from "./synth.ts";

interface Action {
  Name: string;
  ActionTypeId: { Category: string; Provider: string };
  RunOrder: number;
  RoleArn?: unknown;
  Configuration?: Record<string, unknown>;
}
let stack: GspPipelineStack;
let template: Template;
let stageTemplates: Record<string, Template>;
let cleanup: () => void;
before(() => {
  const made = newApp();
  cleanup = made.cleanup;
  stack = addPipeline(made.app);
  const assembly = made.app.synth();
  template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template);
  stageTemplates = Object.fromEntries(
    ENVIRONMENT_NAMES.map((name) => {
      const stage = stack.stages[name].stage;
      const nested = assembly.getNestedAssembly(stage.artifactId);
      return [name, Template.fromJSON(nested.getStackArtifact(stage.stack.artifactId).template)];
    }),
  );
});
after(() => cleanup?.());

const pipelineStages = () => {
  const [pipeline] = Object.values(template.findResources("AWS::CodePipeline::Pipeline"));
  return (pipeline!.Properties.Stages as { Name: string; Actions: Action[] }[]).map((s) => ({
    name: s.Name,
    actions: [...s.Actions].sort((a, b) => a.RunOrder - b.RunOrder || a.Name.localeCompare(b.Name)),
  }));
};
const stage = (name: string) => pipelineStages().find((s) => s.name === name)!;
/** The buildspec commands of the CodeBuild project behind a pipeline action. */
const commandsOf = (action: Action): string[] => {
  const projectRef = (action.Configuration!.ProjectName as { Ref: string }).Ref;
  const project = template.toJSON().Resources[projectRef];
  const spec = JSON.parse(project.Properties.Source.BuildSpec) as {
    phases: Record<string, { commands: string[] }>;
  };
  return Object.values(spec.phases).flatMap((p) => p.commands);
};
const accountOf = (roleArn: unknown) => /:iam::(\d{12}):role\//.exec(JSON.stringify(roleArn))?.[1];

describe("pipeline", () => {
  it("source → build → self-mutation → assets → dev → sandbox → prod, in that order", () => {
    assert.deepEqual(
      pipelineStages().map((s) => s.name),
      ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Sandbox", "Prod"],
    );
    const [source] = stage("Source").actions;
    assert.equal(source!.ActionTypeId.Provider, "CodeStarSourceConnection");
    assert.equal(source!.Configuration!.FullRepositoryId, "invisicash/gsp-integrator");
    assert.equal(source!.Configuration!.BranchName, "main");
  });

  it("the build runs npm ci, npm test, then the pipeline's synthesis (cdk-nag and the placeholder check gate it)", () => {
    const [synth] = stage("Build").actions;
    assert.deepEqual(commandsOf(synth!), ["npm ci", "npm test", "npm run cdk -- synth -c pipeline=true -q"]);
  });

  it("self-mutation: the pipeline deploys itself before any stage", () => {
    const [mutate] = stage("UpdatePipeline").actions;
    assert.equal(mutate!.Name, "SelfMutate");
    assert.match(commandsOf(mutate!).join("\n"), /deploy GspPipeline --require-approval=never/);
  });

  for (const name of ENVIRONMENT_NAMES) {
    const title = `${name[0]!.toUpperCase()}${name.slice(1)}`;
    const config = parseEnvironment(name, ENVIRONMENTS[name]);
    it(`${name}: diff${name === "prod" ? ", manual approval" : ""}, deploy in account ${config.account}, then the smoke test`, () => {
      const actions = stage(title).actions;
      assert.deepEqual(
        actions.map((a) => `${a.RunOrder} ${a.Name} ${a.ActionTypeId.Category}`),
        name === "prod"
          ? [
              "1 Diff Build",
              "2 Approve Approval",
              "3 gsp-prod.Prepare Deploy",
              "4 gsp-prod.Deploy Deploy",
              "5 Smoke Build",
            ]
          : [`1 Diff Build`, `2 gsp-${name}.Prepare Deploy`, `3 gsp-${name}.Deploy Deploy`, "4 Smoke Build"],
      );
      for (const deploy of actions.filter((a) => a.ActionTypeId.Category === "Deploy")) {
        assert.equal(accountOf(deploy.RoleArn), config.account, `${deploy.Name} acts in ${name}'s account`);
        assert.equal(deploy.Configuration!.StackName, `gsp-${name}`);
      }
      const diff = actions.find((a) => a.Name === "Diff")!;
      assert.deepEqual(commandsOf(diff), [
        `npx --yes aws-cdk@${CDK_CLI_VERSION} diff --app assembly-GspPipeline-${title} --ci`,
      ]);
      const smoke = actions.find((a) => a.Name === "Smoke")!;
      assert.equal(
        commandsOf(smoke).at(-1),
        `AWS_PROFILE=smoke npm run smoke -- --env ${name} --url "$GSP_URL"`,
      );
      // The URL comes from the stage's own GoogleApi Url output, after its deploy.
      assert.match(JSON.stringify(smoke.Configuration!.EnvironmentVariables), /GSP_URL.*#\{.*GoogleApiUrl/);
    });
  }

  it("the diff and smoke steps may assume only the stage's bootstrap lookup/deploy roles and its smoke role", () => {
    const assumed = iamStatements(template)
      .filter(({ statement }) => asList(statement.Action).includes("sts:AssumeRole"))
      .flatMap(({ statement }) => asList(statement.Resource).map((r) => JSON.stringify(r)));
    for (const name of ENVIRONMENT_NAMES) {
      const { account, region } = parseEnvironment(name, ENVIRONMENTS[name]);
      for (const role of [
        `arn:aws:iam::${account}:role/cdk-hnb659fds-lookup-role-${account}-${region}`,
        `arn:aws:iam::${account}:role/gsp-${name}-smoke`,
      ]) {
        assert.ok(assumed.includes(JSON.stringify(role)), role);
      }
    }
  });

  it("the approval waits for prod's diff, and only prod has one", () => {
    assert.deepEqual(
      pipelineStages().flatMap((s) =>
        s.actions.filter((a) => a.ActionTypeId.Category === "Approval").map((a) => `${s.name}/${a.Name}`),
      ),
      ["Prod/Approve"],
    );
  });

  it("cross-account artifact keys, rotated", () => {
    template.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
  });

  for (const name of ENVIRONMENT_NAMES) {
    it(`${name}: the stage's smoke role trusts the pipeline account and reads ${name === "prod" ? "the keyrings (outbound echo)" : "the smoke key, never our private keyring"}`, () => {
      const t = stageTemplates[name]!;
      const role = Object.entries(
        t.findResources("AWS::IAM::Role", { Properties: { RoleName: `gsp-${name}-smoke` } }),
      )[0]!;
      assert.match(JSON.stringify(role[1].Properties.AssumeRolePolicyDocument), /:iam::444444444444:root/);
      const secrets = iamStatements(t)
        .filter(({ resource }) =>
          t.toJSON().Resources[resource]?.Properties?.Roles?.some((r: { Ref: string }) => r.Ref === role[0]),
        )
        .filter(({ statement }) => asList(statement.Action).includes("secretsmanager:GetSecretValue"))
        .map(({ statement }) => JSON.stringify(statement.Resource));
      if (name === "prod") {
        assert.ok(secrets.some((s) => s.includes("gsp/prod/integrator-private-keyring")));
      } else {
        assert.ok(secrets.some((s) => s.includes(`gsp/${name}/smoke-private-key`)));
        assert.ok(
          !secrets.some((s) => s.includes("integrator-private-keyring")),
          "no private keyring for the non-prod smoke",
        );
      }
    });
  }
});
