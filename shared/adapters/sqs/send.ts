import type { SQSClient } from "@aws-sdk/client-sqs";

let sdk: Promise<typeof import("@aws-sdk/client-sqs")> | undefined;

/**
 * Sends to SQS with the SDK loaded on the first send, not when the function starts: a bundler hoists a
 * static import of an external package to the top of the bundle, so only a dynamic one spares the
 * functions that never send (capture, asynchronousCapture, echo) its cold import.
 */
export function sqsSender(client?: SQSClient) {
  let made: SQSClient | undefined = client;
  return async (queueUrl: string, messageBody: string): Promise<void> => {
    sdk ??= import("@aws-sdk/client-sqs");
    const { SQSClient, SendMessageCommand } = await sdk;
    made ??= new SQSClient({});
    await made.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: messageBody }));
  };
}
