// A new Node process, as a Lambda cold start: imports one bundled handler and invokes it with the
// API Gateway v2 events of a file, then writes its timings, answers and peak memory to a JSON file.
// Plain JavaScript on purpose: the Lambda runtime imports a bundle, it strips no types.
// Usage: node cold-start-child.mjs <bundle.mjs> <events.json> <out.json> <maxMs>
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const processStartedMs = performance.now(); // ms since this process started (performance.timeOrigin)
const [bundle, eventsFile, outFile, maxMsArg] = process.argv.slice(2);
const events = JSON.parse(readFileSync(eventsFile, "utf8"));
const maxMs = Number(maxMsArg);
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "capture";

const context = () => {
  const deadline = Date.now() + 6000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "512",
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "bench",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
};

const t0 = performance.now();
const { handler } = await import(pathToFileURL(bundle).href);
const imported = performance.now();
const answers = [];
const durations = [];
const loopStarted = performance.now();
for (const event of events) {
  if (answers.length > 0 && performance.now() - loopStarted > maxMs) break;
  const started = performance.now();
  const answer = await handler(event, context());
  durations.push(performance.now() - started);
  answers.push(answer);
}
const usage = process.resourceUsage();
writeFileSync(
  outFile,
  JSON.stringify({
    processStartedMs,
    importMs: imported - t0,
    durations,
    statuses: answers.map((a) => a?.statusCode),
    first: answers[0],
    last: answers[answers.length - 1],
    maxRssKb: usage.maxRSS,
    heapUsedBytes: process.memoryUsage().heapUsed,
  }),
);
