import { type RemovalPolicy, Stack } from "aws-cdk-lib";
import { type IGrantable, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";

export type KeyPurpose = "tables" | "queues" | "logs" | "keyrings";

const DESCRIPTIONS: Record<KeyPurpose, string> = {
  tables: "DynamoDB tables (ledger, captures)",
  queues: "SQS queues (notifications and its DLQ)",
  logs: "CloudWatch log groups (functions, API access logs)",
  keyrings: "Secrets Manager keyring secrets (created by an operator with --kms-key-id)",
};

/**
 * One customer-managed key per kind of data, rotated yearly. The key policy (CDK's default) lets
 * the account's IAM policies grant use; this stack grants each function only what it uses, through
 * the one service that holds the data (kms:ViaService). The logs key also lets CloudWatch Logs use
 * it for this account's log groups. infra/cdk/DEPLOY.md, "Keys", documents the policy.
 */
export class GspKeys extends Construct {
  readonly keys: Record<KeyPurpose, Key>;

  constructor(scope: Construct, id: string, props: { prefix: string; removalPolicy: RemovalPolicy }) {
    super(scope, id);
    const make = (purpose: KeyPurpose) =>
      new Key(this, `${purpose[0]!.toUpperCase()}${purpose.slice(1)}Key`, {
        alias: `alias/${props.prefix}${purpose}`,
        description: `${props.prefix}${DESCRIPTIONS[purpose]}`,
        enableKeyRotation: true,
        removalPolicy: props.removalPolicy,
      });
    this.keys = {
      tables: make("tables"),
      queues: make("queues"),
      logs: make("logs"),
      keyrings: make("keyrings"),
    };
    const { region, account } = Stack.of(this);
    this.keys.logs.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchLogsForThisAccountsLogGroups",
        principals: [new ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:GenerateDataKey",
          "kms:DescribeKey",
        ],
        resources: ["*"],
        conditions: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${Stack.of(this).partition}:logs:${region}:${account}:log-group:*`,
          },
        },
      }),
    );
  }

  /** Lets `grantee` use `purpose`'s key, only through the AWS service that holds that data. */
  grant(grantee: IGrantable, purpose: Exclude<KeyPurpose, "logs">, actions: readonly string[]) {
    const { region } = Stack.of(this);
    const service = { tables: "dynamodb", queues: "sqs", keyrings: "secretsmanager" }[purpose];
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...actions],
        resources: [this.keys[purpose].keyArn],
        conditions: { StringEquals: { "kms:ViaService": `${service}.${region}.amazonaws.com` } },
      }),
    );
  }
}
