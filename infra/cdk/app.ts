/**
 * The CDK app (cdk.json "app"). `npx cdk deploy -c env=prod` builds one environment's stack;
 * `-c pipeline=true` builds the delivery pipeline instead (infra/cdk/pipeline.ts); `-c env=all` builds all three (npm run synth); each environment's settings are infra/cdk/environments/NAME.json. infra/cdk/DEPLOY.md says how to deploy.
 */
import { App } from "aws-cdk-lib";

const app = new App();
try {
  // Imported here: a missing or broken environment file is one sentence, like any other refusal.
  const { addEnvironments, addPipeline } = await import("./gsp-app.ts");
  const pipeline = app.node.tryGetContext("pipeline");
  if (pipeline === true || pipeline === "true") addPipeline(app);
  else addEnvironments(app, app.node.tryGetContext("env"));
  app.synth();
} catch (error) {
  console.error(`gsp-integrator: ${(error as Error).message}`);
  process.exitCode = 1;
}
