/**
 * agentd's main thread runs no garbage collection between its start and core.ready. Under TCG a
 * collection of that thread's heap, set off when the port's 768 KiB inbox was allocated (with
 * --smol JavaScriptCore collects after each MiB allocated), cost 60-80 ms right before
 * core.ready; init now gives agentd a 3 MiB allowance (BUN_JSC_smallHeapSize). The guest runs
 * with JavaScriptCore's GC log on, which names each heap: the first to start is the main thread's.
 */
import { expect, test } from "bun:test";
import { AgentClient } from "../../src/host/client.ts";
import { bootGuest, text, untilConsole, type Guest } from "./harness.ts";

/** Boots with the GC log on; the console up to the first "host connected". */
async function bootLog(): Promise<{ guest: Guest; log: string }> {
  const guest = await bootGuest({ env: ["BUN_JSC_logGC=1"] });
  const c = await AgentClient.connect(guest.state.socket);
  await c.ready;
  expect(text((await c.exec("echo", ["up"]).collect()).stdout)).toBe("up\n");
  c.close();
  const log = await untilConsole(guest, (l) => l.includes("host connected"));
  return { guest, log: log.slice(0, log.indexOf("host connected")) };
}

/** Collections of the main thread's heap in a GC log. */
function mainCollections(log: string): string[] {
  const heaps = [...log.matchAll(/\[GC<(0x[0-9a-f]+)>: starting/g)].map((m) => m[1]!);
  expect(heaps.length).toBeGreaterThanOrEqual(1);
  return log.split("\n").filter((l) => l.includes(`[GC<${heaps[0]}>: START`));
}

test("agentd's main thread collects no garbage between its start and the first host", async () => {
  const { guest, log } = await bootLog();
  try {
    expect(log).toContain("agentd: serving on");
    expect(mainCollections(log)).toEqual([]);
  } finally {
    await guest.stop();
  }
}, 120_000);
