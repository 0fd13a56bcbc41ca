/** Synthesis for the CDK tests: the real app (esbuild bundling, cdk-nag), in a temporary cloud assembly. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnElement, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import type { EnvironmentName } from "../../infra/cdk/environments.ts";
import { addEnvironments } from "../../infra/cdk/gsp-app.ts";
import type { GspStack } from "../../infra/cdk/gsp-stack.ts";

export const REPO_ROOT = join(import.meta.dirname, "../..");

/** The feature flags `cdk synth` runs with, so the tests see the template the CLI would deploy. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(REPO_ROOT, "cdk.json"), "utf8"),
).context;

export function newApp(): { app: App; outdir: string; cleanup: () => void } {
  const outdir = mkdtempSync(join(tmpdir(), "gsp-cdk-test-"));
  return {
    // In-memory mode: a failed validation throws with the report in its message, not only on stderr.
    // Asset metadata as the CLI asks for it: tests find each function's bundle through it.
    // The committed environment files hold example values, which a deployment refuses (allowPlaceholders).
    app: new App({
      outdir,
      context: {
        ...CDK_CONTEXT,
        "@aws-cdk/core:appMode": "inmemory",
        "aws:cdk:enable-asset-metadata": true,
        allowPlaceholders: true,
      },
    }),
    outdir,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

export interface Synthesized {
  outdir: string;
  stacks: Record<EnvironmentName, GspStack>;
  templates: Record<EnvironmentName, Template>;
  cleanup: () => void;
}

/** All three environments in one app, synthesized once (the bundles are built once for all). */
export function synthesizeAll(): Synthesized {
  const { app, outdir, cleanup } = newApp();
  const stacks = Object.fromEntries(addEnvironments(app, "all").map((s) => [s.stage, s])) as Record<
    EnvironmentName,
    GspStack
  >;
  const assembly = app.synth();
  const templates = Object.fromEntries(
    Object.entries(stacks).map(([name, stack]) => [
      name,
      Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template),
    ]),
  ) as Record<EnvironmentName, Template>;
  return { outdir, stacks, templates, cleanup };
}

/** The template's logical id of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const cfn = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(cfn.logicalId) as string;
}

/** Every IAM statement of a template: AWS::IAM::Policy and ManagedPolicy documents, and roles' inline policies. */
export function iamStatements(
  template: Template,
): { resource: string; statement: Record<string, unknown> }[] {
  const out: { resource: string; statement: Record<string, unknown> }[] = [];
  const add = (resource: string, document: { Statement?: unknown } | undefined) => {
    const statements = document?.Statement;
    for (const statement of Array.isArray(statements) ? statements : statements ? [statements] : []) {
      out.push({ resource, statement: statement as Record<string, unknown> });
    }
  };
  for (const type of ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]) {
    for (const [id, r] of Object.entries(template.findResources(type))) add(id, r.Properties?.PolicyDocument);
  }
  for (const type of ["AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"]) {
    for (const [id, r] of Object.entries(template.findResources(type))) {
      for (const p of (r.Properties?.Policies ?? []) as { PolicyDocument?: { Statement?: unknown } }[]) {
        add(id, p.PolicyDocument);
      }
    }
  }
  return out;
}

export const asList = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];
