/**
 * A host that connects to the port while the guest boots (a launcher waiting for it, or a host
 * with no relay in front) must get core.ready as soon as agentd serves, without sending anything
 * and without reconnecting. virtio_console raises no event for a host that was there before the
 * port was opened, so agentd's reader, had it waited for one, would have left that host waiting
 * until it sent a byte or gave up (the relay used to reconnect every 0.4 s for this).
 * This guest has no relay: the test is the host, on QEMU's socket for the port.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { AgentClient } from "../../src/host/client.ts";
import { bootGuest, text } from "./harness.ts";

test("a host connected before agentd serves gets core.ready at once, on that connection", async () => {
  const guest = await bootGuest({ relay: false });
  // QEMU creates the console's file when the guest first writes to it.
  const consoleText = () =>
    existsSync(guest.state.console_log) ? readFileSync(guest.state.console_log, "utf8") : "";
  try {
    // QEMU has just started (the kernel takes seconds to reach init): agentd does not serve yet.
    expect(consoleText()).not.toContain("serving on");
    const c = await AgentClient.connect(guest.state.socket, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nconsole:\n${consoleText().slice(-2000)}`);
    });
    try {
      const ready = await c.ready;
      expect(BigInt(ready.ready_time_ns)).toBeGreaterThan(0n);
      expect(text((await c.exec("echo", ["here"]).collect()).stdout)).toBe("here\n");
      // One connection, the one made before agentd served: no reconnect was needed. (The
      // serial console is slow: its line may come after the answers.)
      const connections = () => consoleText().split("host connected").length - 1;
      for (const end = Date.now() + 10_000; connections() === 0 && Date.now() < end;) await Bun.sleep(50);
      expect(connections()).toBe(1);
      await c.shutdown();
    } finally {
      c.close();
    }
  } finally {
    await guest.stop();
  }
}, 120_000);
