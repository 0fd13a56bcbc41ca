import { CfnOutput, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  DomainName,
  HttpApi,
  HttpMethod,
  type HttpRoute,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { Certificate } from "aws-cdk-lib/aws-certificatemanager";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type FunctionName, type RouteDefinition, routes } from "../../resources.ts";
import type { GspFunction } from "./gsp-function.ts";

export interface GspApiProps {
  apiName: string;
  functions: Record<FunctionName, GspFunction>;
  throttle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  customDomain?: { domainName: string; certificateArn: string } | undefined;
}

/** HTTP API fields worth keeping per request; never a body, header value or query string. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: "$context.requestId",
    requestTime: "$context.requestTime",
    routeKey: "$context.routeKey",
    status: "$context.status",
    responseLength: "$context.responseLength",
    responseLatency: "$context.responseLatency",
    integrationLatency: "$context.integrationLatency",
    integrationStatus: "$context.integrationStatus",
    integrationError: "$context.integrationErrorMessage",
    error: "$context.error.message",
    sourceIp: "$context.identity.sourceIp",
    callerArn: "$context.identity.userArn",
  }),
);

/**
 * The HTTP API of infra/resources.ts `routes`: envelope routes are public (the OpenPGP envelope is
 * their authentication), iam routes need a SigV4 signature from a principal allowed to invoke them.
 */
export class GspApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly routes = new Map<string, HttpRoute>();

  constructor(scope: Construct, id: string, props: GspApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, "HttpApi", {
      apiName: props.apiName,
      createDefaultStage: false,
      // With a custom domain, that is the one way in.
      disableExecuteApiEndpoint: props.customDomain !== undefined,
    });
    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    const domainName = props.customDomain
      ? new DomainName(this, "DomainName", {
          domainName: props.customDomain.domainName,
          certificate: Certificate.fromCertificateArn(this, "Certificate", props.customDomain.certificateArn),
        })
      : undefined;
    this.stage = new HttpStage(this, "DefaultStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: props.throttle,
      // Route-level metrics: the capture latency alarm watches /v1/capture alone.
      detailedMetricsEnabled: true,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
      ...(domainName && { domainMapping: { domainName } }),
    });
    Validations.of(this.stage).acknowledge({
      id: "Serverless-APIGWXrayEnabled",
      reason:
        "HTTP APIs do not support X-Ray tracing; each function traces its own invocation (Tracing.ACTIVE)",
    });

    for (const route of routes as readonly RouteDefinition[])
      this.addRoute(route, props.functions[route.function]);

    new CfnOutput(this, "Url", {
      value: domainName ? `https://${props.customDomain!.domainName}` : this.api.apiEndpoint,
      description: "Base URL Google calls (/v1/capture, /v1/asynchronousCapture)",
    });
    if (domainName) {
      new CfnOutput(this, "DomainTarget", {
        value: domainName.regionalDomainName,
        description: "Point the custom domain's DNS (CNAME or alias) here",
      });
    }
  }

  private addRoute(route: RouteDefinition, target: GspFunction) {
    const [created] = this.api.addRoutes({
      path: route.path,
      methods: [HttpMethod[route.method]],
      integration: new HttpLambdaIntegration(`${route.function}Integration`, target.function, {
        payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
      }),
      ...(route.auth === "iam" && { authorizer: new HttpIamAuthorizer() }),
    });
    if (!created) throw new Error(`route ${route.method} ${route.path} was not created`);
    this.routes.set(`${route.method} ${route.path}`, created);
    if (route.auth === "envelope") {
      Validations.of(created).acknowledge({
        id: "AwsSolutions-APIG4",
        reason:
          "Google's routes carry no AWS credentials: every body is OpenPGP-signed by Google and verified against its public keyring before anything is read, and answered encrypted",
      });
    } else {
      new CfnOutput(this, `${route.function}RouteArn`, {
        value: this.api.arnForExecuteApi(route.method, route.path, this.stage.stageName),
        description: `Allow execute-api:Invoke on this ARN to the integrator systems that call ${route.path}`,
      });
    }
    const invokedSynchronously =
      "Invoked synchronously by API Gateway: a dead-letter queue or on-failure destination only applies to asynchronous invocations, and the caller sees the error";
    Validations.of(target.function).acknowledge({ id: "Serverless-LambdaDLQ", reason: invokedSynchronously });
    Validations.of(target.function).acknowledge({
      id: "Serverless-LambdaAsyncFailureDestination",
      reason: invokedSynchronously,
    });
  }
}
