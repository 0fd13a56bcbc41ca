import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoCaptureStore } from "./adapters/dynamodb/capture-store.ts";
import type { RuntimeConfig } from "./config.ts";
import type { CaptureDeps } from "./domain/capture-service.ts";
import { type MessageCodec, plainJsonCodec } from "./http/codec.ts";
import { createLogger, type Logger } from "./logging.ts";

/** Our transaction id: time-ordered (operators sort by it) and unguessable. */
export const newTransactionId = () =>
  `${Date.now().toString(36).padStart(9, "0")}${randomBytes(9).toString("base64url")}`;

export function codecFor(config: RuntimeConfig): MessageCodec {
  switch (config.messageCodec) {
    case "plain-json":
      return plainJsonCodec;
  }
}

export interface ServiceDeps {
  config: RuntimeConfig;
  dynamodb: DynamoDBClient;
  codec: MessageCodec;
  logger: Logger;
  capture: CaptureDeps;
}

/** Everything a function needs, built once per process from its configuration. */
export function serviceDeps(
  config: RuntimeConfig,
  overrides: { dynamodb?: DynamoDBClient; logger?: Logger } = {},
): ServiceDeps {
  const dynamodb = overrides.dynamodb ?? new DynamoDBClient({});
  return {
    config,
    dynamodb,
    codec: codecFor(config),
    logger: overrides.logger ?? createLogger(),
    capture: {
      store: new DynamoCaptureStore(dynamodb, config.tables),
      piaids: config.piaids,
      ledgerTimeZone: config.ledgerTimeZone,
      now: Date.now,
      newTransactionId,
    },
  };
}
