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
  // Linux routes all of 127/8 to the loopback interface: a socket on 0.0.0.0 answers at 127.0.0.2 and
  // one on 127.0.0.1 does not, so the check means something on a machine with no other interface too.
  const others = [...(process.platform === "linux" ? ["127.0.0.2"] : []), ...external];
  assert.ok(others.length > 0, "an address other than 127.0.0.1 to try");
  for (const address of others) assert.equal(await reachable(address, port), false, address);
});
