/**
 * A host that connects to the port while the guest boots (a launcher waiting for it, or a host
 * with no relay in front) must get core.ready as soon as agentd serves, without sending anything
 * and without reconnecting. virtio_console raises no event for a host that was there before the
 * port was opened, so agentd's reader, had it waited for one, would have left that host waiting
 * until it sent a byte or gave up (the relay used to reconnect every 0.4 s for this).
 * This guest has no relay: the test is the host, on QEMU's socket for the port.
 */
import { expect, test } from "bun:test";
import { AgentClient } from "../../src/host/client.ts";
import { bootGuest, consoleOf, text, untilConsole } from "./harness.ts";

test("a host connected before agentd serves gets core.ready at once, on that connection", async () => {
  const guest = await bootGuest({ relay: false });
  try {
    // QEMU has just started (the kernel takes seconds to reach init): agentd does not serve yet.
    expect(consoleOf(guest)).not.toContain("serving on");
    const c = await AgentClient.connect(guest.state.socket, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nconsole:\n${consoleOf(guest).slice(-2000)}`);
    });
    try {
      const ready = await c.ready;
      expect(BigInt(ready.ready_time_ns)).toBeGreaterThan(0n);
      expect(text((await c.exec("echo", ["here"]).collect()).stdout)).toBe("here\n");
      // One connection, the one made before agentd served: no reconnect was needed.
      const connections = (log: string) => log.split("host connected").length - 1;
      expect(connections(await untilConsole(guest, (log) => connections(log) > 0))).toBe(1);
      await c.shutdown();
    } finally {
      c.close();
    }
  } finally {
    await guest.stop();
  }
}, 120_000);
