/** The local emulators are reachable from this machine only, where the emulator allows it. */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { after, it } from "node:test";
import { startSqsEmulator } from "../../infra/local/emulators.ts";

const reachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

it("fauxqs listens on 127.0.0.1 only, not on the machine's other addresses", async () => {
  const sqs = await startSqsEmulator();
  after(() => sqs.stop());
  const port = Number(new URL(sqs.endpoint).port);
  assert.equal(new URL(sqs.address!).hostname, "127.0.0.1");
  assert.equal(await reachable("127.0.0.1", port), true);
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === "IPv4" && !a.internal)
    .map((a) => a!.address);
  for (const address of external) assert.equal(await reachable(address, port), false, address);
});
