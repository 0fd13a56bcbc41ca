/**
 * Who may call the internal outcome route, checked by the function itself as well as by API
 * Gateway's resource policy: a second lock, so a policy widened by mistake approves nothing.
 */

/** The env var (set by the CDK app) listing the IAM role ARNs allowed, comma-separated. */
export const OUTCOME_CALLERS_ENV = "OUTCOME_CALLER_ARNS";

const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/;
const ASSUMED_ROLE_ARN = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/;

export const isRoleArn = (arn: string) => ROLE_ARN.test(arn);

/** The allow-list from the environment; none, or one that is not a list of role ARNs, is a configuration error. */
export function outcomeCallersFrom(env: Record<string, string | undefined>): string[] {
  const list = (env[OUTCOME_CALLERS_ENV] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new Error(`invalid configuration: ${OUTCOME_CALLERS_ENV} names no caller`);
  const bad = list.filter((arn) => !isRoleArn(arn));
  if (bad.length > 0) throw new Error(`invalid configuration: ${OUTCOME_CALLERS_ENV} holds a non-role ARN`);
  return list;
}

/** The SigV4-verified caller API Gateway put in the request context: REST (v1) or HTTP API (v2) shape. */
export function callerArnOf(event: unknown): string | undefined {
  const context = (event as { requestContext?: Record<string, unknown> } | undefined)?.requestContext;
  const v1 = (context?.identity as { userArn?: unknown } | undefined)?.userArn;
  const v2 = (context?.authorizer as { iam?: { userArn?: unknown } } | undefined)?.iam?.userArn;
  const arn = v1 ?? v2;
  return typeof arn === "string" && arn.length > 0 ? arn : undefined;
}

/** A session of an allowed role (any session name), or the role itself; nothing else. */
export function isAllowedCaller(callerArn: string | undefined, allowed: readonly string[]): boolean {
  if (!callerArn) return false;
  const session = ASSUMED_ROLE_ARN.exec(callerArn);
  return allowed.some((entry) => {
    if (entry === callerArn) return true;
    const role = ROLE_ARN.exec(entry);
    // A role session's ARN drops the role's path: partition, account and name identify it.
    return (
      role !== null &&
      session !== null &&
      role[1] === session[1] &&
      role[2] === session[2] &&
      role[3] === session[3]
    );
  });
}
