import { CfnIPSet, CfnWebACL, CfnWebACLAssociation } from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";

export interface EdgeWafProps {
  /** Name of the web ACL and prefix of its metrics. */
  name: string;
  /** Requests per source IP per 5 minutes. */
  rateLimitPer5Minutes: number;
  /** Bodies larger than this are blocked. */
  maxBodyBytes: number;
  /** If set, only these source ranges are admitted. */
  allowedSourceCidrs?: readonly string[] | undefined;
  /** ARNs of the API Gateway stages it protects. */
  stageArns: readonly string[];
}

/**
 * A regional WAF web ACL in front of API Gateway stages: an optional source allow-list, a
 * per-IP rate limit, a body size limit, and AWS's IP reputation list. Every rule has its own
 * CloudWatch metric and sampled requests.
 */
export class EdgeWaf extends Construct {
  readonly webAcl: CfnWebACL;

  constructor(scope: Construct, id: string, props: EdgeWafProps) {
    super(scope, id);
    const visibility = (metric: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.name}-${metric}`,
    });
    const rules: CfnWebACL.RuleProperty[] = [];
    const cidrs = props.allowedSourceCidrs ?? [];
    const sets = (["IPV4", "IPV6"] as const)
      .map((version) => ({
        version,
        addresses: cidrs.filter((c) => (version === "IPV4") === !c.includes(":")),
      }))
      .filter((s) => s.addresses.length > 0)
      .map(
        ({ version, addresses }) =>
          new CfnIPSet(this, `Allowed${version}`, {
            scope: "REGIONAL",
            ipAddressVersion: version,
            addresses,
            name: `${props.name}-allowed-${version.toLowerCase()}`,
          }),
      );
    if (sets.length > 0) {
      const inAny = sets.map((set) => ({ ipSetReferenceStatement: { arn: set.attrArn } }));
      rules.push({
        name: "only-allowed-sources",
        priority: 0,
        action: { block: {} },
        statement: {
          notStatement: {
            statement: inAny.length === 1 ? inAny[0]! : { orStatement: { statements: inAny } },
          },
        },
        visibilityConfig: visibility("not-allowed-source"),
      });
    }
    rules.push(
      {
        name: "rate-per-ip",
        priority: 1,
        action: { block: {} },
        statement: {
          rateBasedStatement: {
            limit: props.rateLimitPer5Minutes,
            aggregateKeyType: "IP",
            evaluationWindowSec: 300,
          },
        },
        visibilityConfig: visibility("rate-per-ip"),
      },
      {
        name: "body-size",
        priority: 2,
        action: { block: {} },
        statement: {
          sizeConstraintStatement: {
            fieldToMatch: { body: { oversizeHandling: "MATCH" } },
            comparisonOperator: "GT",
            size: props.maxBodyBytes,
            textTransformations: [{ priority: 0, type: "NONE" }],
          },
        },
        visibilityConfig: visibility("body-size"),
      },
      {
        name: "aws-ip-reputation",
        priority: 3,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: { vendorName: "AWS", name: "AWSManagedRulesAmazonIpReputationList" },
        },
        visibilityConfig: visibility("ip-reputation"),
      },
    );
    this.webAcl = new CfnWebACL(this, "WebAcl", {
      name: props.name,
      scope: "REGIONAL",
      defaultAction: { allow: {} },
      rules,
      visibilityConfig: visibility("all"),
    });
    props.stageArns.forEach((resourceArn, i) => {
      new CfnWebACLAssociation(this, `Association${i}`, { resourceArn, webAclArn: this.webAcl.attrArn });
    });
  }
}
