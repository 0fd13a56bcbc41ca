import { CfnOutput, type RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  AccessLogFormat,
  AuthorizationType,
  BasePathMapping,
  DomainName,
  EndpointAccessMode,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  RestApi,
  SecurityPolicy,
} from "aws-cdk-lib/aws-apigateway";
import { Certificate } from "aws-cdk-lib/aws-certificatemanager";
import { AnyPrincipal, Effect, PolicyDocument, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { FunctionName, RouteDefinition } from "../../resources.ts";
import type { GspFunction } from "./gsp-function.ts";
import { EdgeWaf } from "./waf.ts";

/** The one stage of each API; Google calls the custom domain, which maps to it. */
export const STAGE_NAME = "live";

/**
 * TLS 1.2 minimum, forward secrecy only (ECDHE with AES-GCM or ChaCha20), TLS 1.3 preferred
 * (with post-quantum key exchange); STRICT refuses a client that cannot meet it.
 */
export const CUSTOM_DOMAIN_SECURITY_POLICY = SecurityPolicy.TLS13_1_2_PFS_PQ_2025_09;

export interface GspApiProps {
  apiName: string;
  description: string;
  /** The routes of infra/resources.ts this API serves: all "envelope" or all "iam". */
  routes: readonly RouteDefinition[];
  functions: Record<FunctionName, GspFunction>;
  /** Per route (each method has its own bucket), so a flood on one route cannot use another's. */
  throttle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  logKey: IKey;
  waf: {
    rateLimitPer5Minutes: number;
    maxBodyBytes: number;
    allowedSourceCidrs?: readonly string[] | undefined;
  };
  customDomain?: { domainName: string; certificateArn: string } | undefined;
  /** For "iam" routes: the only roles the resource policy lets invoke them. */
  allowedCallers?: readonly string[];
  /** Creates the account's API Gateway CloudWatch role (one per account and region, so one API of the stack). */
  cloudWatchRole: boolean;
}

/** REST API fields worth keeping per request; never a body, header value or query string. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: "$context.requestId",
    requestTime: "$context.requestTime",
    httpMethod: "$context.httpMethod",
    resourcePath: "$context.resourcePath",
    status: "$context.status",
    responseLength: "$context.responseLength",
    responseLatency: "$context.responseLatency",
    integrationLatency: "$context.integration.latency",
    integrationStatus: "$context.integration.status",
    integrationError: "$context.integration.error",
    error: "$context.error.message",
    waf: "$context.wafResponseCode",
    sourceIp: "$context.identity.sourceIp",
    callerArn: "$context.identity.userArn",
  }),
);

/**
 * A regional REST API over some of infra/resources.ts `routes`, behind its own WAF, access-logged
 * (KMS), traced, throttled per route. Its Lambda proxy events are payload v1: the handlers read only
 * `body`, `isBase64Encoded` and `requestContext.requestId` / the caller, which both shapes carry
 * (shared/http/caller.ts reads either). Envelope routes are public (the OpenPGP envelope is their
 * authentication); iam routes need SigV4 from a role the resource policy names.
 */
export class GspApi extends Construct {
  readonly api: RestApi;
  readonly accessLogs: LogGroup;
  readonly waf: EdgeWaf;
  readonly methods = new Map<string, Method>();
  readonly domainName: DomainName | undefined;
  /** The base URL its callers use (the pipeline's smoke step reads it). */
  readonly urlOutput: CfnOutput;

  constructor(scope: Construct, id: string, props: GspApiProps) {
    super(scope, id);
    const iam = props.routes.some((r) => r.auth === "iam");
    if (iam && !props.routes.every((r) => r.auth === "iam")) {
      throw new Error(`${props.apiName}: iam and envelope routes never share an API`);
    }
    if (iam && (props.allowedCallers ?? []).length === 0) {
      throw new Error(`${props.apiName}: an IAM API needs the roles allowed to call it`);
    }
    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
      encryptionKey: props.logKey,
    });
    const routeThrottle = {
      throttlingRateLimit: props.throttle.rateLimit,
      throttlingBurstLimit: props.throttle.burstLimit,
      metricsEnabled: true,
      loggingLevel: MethodLoggingLevel.ERROR,
      dataTraceEnabled: false,
    };
    this.api = new RestApi(this, "RestApi", {
      restApiName: props.apiName,
      description: props.description,
      endpointTypes: [EndpointType.REGIONAL],
      // Google's body arrives base64-encoded whatever its content type; the handlers decode it.
      binaryMediaTypes: ["*/*"],
      // With a custom domain, that is the one way in.
      disableExecuteApiEndpoint: props.customDomain !== undefined,
      cloudWatchRole: props.cloudWatchRole,
      ...(iam && { policy: callersOnly(props.allowedCallers!) }),
      deployOptions: {
        stageName: STAGE_NAME,
        tracingEnabled: true,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: ACCESS_LOG_FORMAT,
        ...routeThrottle,
        methodOptions: Object.fromEntries(props.routes.map((r) => [`${r.path}/${r.method}`, routeThrottle])),
      },
    });
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions-APIG2",
      reason: iam
        ? "The outcome function validates every field itself (valibot, 400 INVALID_OUTCOME naming the field); a second schema in API Gateway would be a copy that drifts"
        : "Google's bodies are OpenPGP ciphertext: no gateway schema can see inside; the function validates every field after opening the envelope",
    });
    if (props.cloudWatchRole) {
      Validations.of(this.api).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        reason:
          "API Gateway's account-wide role for execution logs: AWS's managed policy is the documented one and grants only log delivery",
      });
    }
    for (const route of props.routes) this.addRoute(route, props.functions[route.function]);

    this.waf = new EdgeWaf(this, "Waf", {
      name: props.apiName,
      ...props.waf,
      stageArns: [this.api.deploymentStage.stageArn],
    });

    this.domainName = props.customDomain
      ? new DomainName(this, "DomainName", {
          domainName: props.customDomain.domainName,
          certificate: Certificate.fromCertificateArn(this, "Certificate", props.customDomain.certificateArn),
          endpointType: EndpointType.REGIONAL,
          securityPolicy: CUSTOM_DOMAIN_SECURITY_POLICY,
          endpointAccessMode: EndpointAccessMode.STRICT,
        })
      : undefined;
    if (this.domainName) {
      new BasePathMapping(this, "BasePathMapping", {
        domainName: this.domainName,
        restApi: this.api,
        stage: this.api.deploymentStage,
      });
    }
    this.urlOutput = new CfnOutput(this, "Url", {
      value: props.customDomain ? `https://${props.customDomain.domainName}` : this.api.url,
      description: `Base URL of ${props.routes.map((r) => r.path).join(", ")}`,
    });
    if (this.domainName) {
      new CfnOutput(this, "DomainTarget", {
        value: this.domainName.domainNameAliasDomainName,
        description: "Point the custom domain's DNS (CNAME or alias) here",
      });
    }
  }

  private addRoute(route: RouteDefinition, target: GspFunction) {
    const resource = this.api.root.resourceForPath(route.path);
    const method = resource.addMethod(
      route.method,
      new LambdaIntegration(target.invoked, { proxy: true, allowTestInvoke: false }),
      { authorizationType: route.auth === "iam" ? AuthorizationType.IAM : AuthorizationType.NONE },
    );
    this.methods.set(`${route.method} ${route.path}`, method);
    if (route.auth === "envelope") {
      const reason =
        "Google's routes carry no AWS credentials: every body is OpenPGP-signed by Google and verified against its public keyring before anything is read, and answered encrypted";
      Validations.of(method).acknowledge({ id: "AwsSolutions-APIG4", reason });
      Validations.of(method).acknowledge({ id: "AwsSolutions-COG4", reason });
    } else {
      Validations.of(method).acknowledge({
        id: "AwsSolutions-COG4",
        reason:
          "Called by the integrator's own systems with SigV4 (AWS_IAM), restricted to named roles by the resource policy and again by the function",
      });
      new CfnOutput(this, `${route.function}RouteArn`, {
        value: this.api.arnForExecuteApi(route.method, route.path, STAGE_NAME),
        description: `Allow execute-api:Invoke on this ARN to the integrator roles (outcomeCallers) that call ${route.path}`,
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

/**
 * Only the named roles may invoke: an Allow for them, and a Deny for every other principal, since
 * within the account an identity policy alone would otherwise be enough.
 */
function callersOnly(roles: readonly string[]): PolicyDocument {
  const invoke = {
    principals: [new AnyPrincipal()],
    actions: ["execute-api:Invoke"],
    resources: ["execute-api:/*"],
  };
  return new PolicyDocument({
    statements: [
      new PolicyStatement({ ...invoke, conditions: { ArnEquals: { "aws:PrincipalArn": [...roles] } } }),
      new PolicyStatement({
        ...invoke,
        effect: Effect.DENY,
        conditions: { ArnNotEquals: { "aws:PrincipalArn": [...roles] } },
      }),
    ],
  });
}
