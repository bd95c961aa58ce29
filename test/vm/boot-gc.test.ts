/**
 * agentd allocates nothing before core.ready that makes its heap collect. Under TCG a
 * collection of the main thread's heap, set off when the port's 768 KiB inbox was allocated (with
 * --smol JavaScriptCore collects after each MiB allocated), cost 60-80 ms right before
 * core.ready; init now gives agentd a 3 MiB allowance (BUN_JSC_smallHeapSize). The guest runs
 * with JavaScriptCore's GC log on, which says "Requesting GC because bytes allocated this cycle"
 * for each collection that allocation sets off. (Bun's idle timer may also collect on a slow
 * boot; those are not counted: they do not depend on what agentd allocates.)
 */
import { expect, test } from "bun:test";
import { AgentClient } from "../../src/host/client.ts";
import { parseBootLine } from "../../agentd/boot-line.ts";
import { bootGuest, text, untilConsole } from "./harness.ts";

test("no garbage collection set off by allocation between agentd's start and the first host", async () => {
  const guest = await bootGuest({ env: ["BUN_JSC_logGC=1"] });
  try {
    const c = await AgentClient.connect(guest.state.socket);
    await c.ready;
    // Up to the boot line, written AFTER_READY_DEFER_MS after core.ready (agentd/guest-mode.ts);
    // no request before it here, so nothing of a request's handling is in that window.
    const console = await untilConsole(guest, (l) => parseBootLine(l) !== null);
    expect(text((await c.exec("echo", ["up"]).collect()).stdout)).toBe("up\n");
    c.close();
    const bootLine = console.indexOf("agentd: boot (ms");
    expect(bootLine).toBeGreaterThan(0);
    const beforeHost = console.slice(0, bootLine);
    expect(beforeHost).toContain("agentd: host connected");
    // The GC log is on: each heap says so when it starts.
    expect(beforeHost).toMatch(/\[GC<0x[0-9a-f]+>: starting/);
    const requested = beforeHost
      .split("\n")
      .filter((l) => l.includes("Requesting GC because bytes allocated"));
    expect(requested).toEqual([]);
  } finally {
    await guest.stop();
  }
}, 120_000);
