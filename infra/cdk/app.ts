/**
 * The CDK app (cdk.json "app"). `npx cdk deploy -c env=prod` builds one environment's stack;
 * `-c env=all` builds all three (npm run synth). infra/cdk/DEPLOY.md says how to deploy.
 */
import { App } from "aws-cdk-lib";
import { addEnvironments } from "./gsp-app.ts";

const app = new App();
try {
  addEnvironments(app, app.node.tryGetContext("env"));
  app.synth();
} catch (error) {
  console.error(`gsp-integrator: ${(error as Error).message}`);
  process.exitCode = 1;
}
