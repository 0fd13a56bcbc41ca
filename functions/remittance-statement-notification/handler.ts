import { runtimeConfigFrom } from "../../shared/config.ts";
import { remittanceStatementNotification } from "../../shared/domain/statement-service.ts";
import { googleHandler } from "../../shared/http/google-handler.ts";
import { lazyHandler } from "../../shared/http/lazy-handler.ts";
import { type ServiceDeps, statementServiceDeps } from "../../shared/runtime.ts";

/** POST /v1/remittanceStatementNotification: record Google's statement; reconciliation runs off the request. */
export const createRemittanceStatementNotificationHandler = (
  deps: Pick<ServiceDeps, "codec" | "logger" | "statement">,
) =>
  googleHandler(deps, "remittanceStatementNotification", (body) =>
    remittanceStatementNotification(deps.statement, body),
  );

export const handler = lazyHandler(() =>
  createRemittanceStatementNotificationHandler(statementServiceDeps(runtimeConfigFrom(process.env))),
);
