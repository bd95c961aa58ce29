/**
 * While no host is connected to the port, agentd waits quietly: virtio_console reports POLLIN
 * together with POLLHUP then (a read would return 0 at once), which agentd once took for a host
 * coming back, opening and closing a connection (and sending core.ready to nobody) 20 times a
 * second. A host that connects after a while gets one fresh core.ready and a working agent.
 * Here the relay is stopped and the test talks to QEMU's socket for the port directly.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { AgentClient } from "../../src/host/client.ts";
import { parseBootLine } from "../../agentd/boot-line.ts";
import { consoleOf, text, untilConsole } from "./harness.ts";
import { guestPerFile } from "./guest-per-file.ts";

const guest = guestPerFile();

const consoleText = () => consoleOf(guest);
const count = (s: string, what: string) => s.split(what).length - 1;

/** Waits until agentd's last console line ends with `tail`; returns the console then. */
async function untilLastLine(tail: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const all = consoleText();
    const last =
      all
        .trimEnd()
        .split("\n")
        .filter((l) => l.startsWith("agentd: "))
        .pop() ?? "";
    if (last.endsWith(tail)) return all;
    if (Date.now() > deadline) throw new Error(`agentd's last line is not "...${tail}": ${last}`);
    await Bun.sleep(100);
  }
}

test("with no host for 3 s agentd opens no connection; the next host gets one core.ready", async () => {
  const first = await guest.connect();
  await first.ready;
  // The boot line comes a while after core.ready (AFTER_READY_DEFER_MS); once it is out, the lines
  // below are the last ones.
  expect(parseBootLine(await untilConsole(guest, (l) => parseBootLine(l) !== null, 15_000))).not.toBeNull();
  first.close();
  await first.closed();
  // The relay opens its next QEMU connection at once; stop it once the guest has seen that one.
  await untilLastLine("host connected");
  process.kill(guest.state.relay_pid, "SIGKILL");
  const before = await untilLastLine("session(s)");
  await Bun.sleep(3000);
  expect(count(consoleText().slice(before.length), "host connected")).toBe(0);

  const c = await AgentClient.connect(join(guest.state.state_dir, "port.sock"), 20_000);
  try {
    const ready = await c.ready;
    expect(BigInt(ready.ready_time_ns)).toBeGreaterThan(0n);
    expect(text((await c.exec("echo", ["back"]).collect()).stdout)).toBe("back\n");
    expect(count(consoleText().slice(before.length), "host connected")).toBe(1);
  } finally {
    await c.shutdown().catch(() => {});
    c.close();
  }
}, 60_000);
