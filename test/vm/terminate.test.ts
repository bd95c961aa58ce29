/**
 * A termination sent to init (SIGTERM, as a host's or the guest's own shutdown sends it) always
 * powers the guest off: init forwards it to agentd and never answers it with a restart, whether
 * agentd shuts down cleanly, dies some other way, takes no signals yet (in the guest agentd takes
 * them only a moment after core.ready, agentd/main.ts) or does not end at all (init/init.c). A
 * SIGTERM sent to agentd itself does the same before agentd takes signals as after. Each test boots
 * its own guest, since each ends it.
 */
import { afterEach, expect, test } from "bun:test";
import { parseBootLine } from "../../agentd/boot-line.ts";
import { alive, waitFor } from "../../src/host/process.ts";
import { bootGuest, consoleOf, untilConsole, type Guest } from "./harness.ts";

let guest: Guest | null = null;
afterEach(async () => {
  await guest?.stop();
  guest = null;
}, 60_000);

/**
 * Boots a guest, runs `script` in it without waiting for it (the guest goes away under it), at
 * once or once agentd takes signals (its boot line is written right after it took its handlers),
 * and returns the console once QEMU has exited by itself within `ms`, with how long that took.
 */
async function terminate(
  script: string,
  o: { once: "ready" | "handlers"; ms: number },
): Promise<{ log: string; tookMs: number }> {
  guest = await bootGuest();
  if (o.once === "handlers") await untilConsole(guest, (l) => parseBootLine(l) !== null, 10_000);
  const c = await guest.connect();
  await c.ready;
  const t0 = Date.now();
  void c
    .exec("sh", ["-c", script])
    .collect()
    .catch(() => {});
  const pid = guest.state.pid;
  expect(await waitFor(() => !alive(pid), o.ms)).toBe(true);
  const log = consoleOf(guest);
  expect(log).toContain("reboot: Power down");
  expect(log).not.toContain("restarting agentd");
  expect(log).not.toContain("Kernel panic");
  return { log, tookMs: Date.now() - t0 };
}

test("SIGTERM to init as the first command after boot powers the guest off, never restarts agentd", async () => {
  // The first exec comes 60-120 ms after core.ready under TCG, before agentd takes signals
  // (AFTER_READY_DEFER_MS): agentd then ends by the signal itself.
  const { log } = await terminate("kill -TERM 1", { once: "ready", ms: 20_000 });
  expect(log).toMatch(/init: agentd (finished|ended after a termination request); powering off/);
}, 90_000);

test("SIGTERM to agentd itself as the first command after boot powers the guest off, never restarts it", async () => {
  // Before agentd takes signals it dies of this one; init powers off as agentd would have.
  const { log } = await terminate("kill -TERM $(pidof agentd)", { once: "ready", ms: 20_000 });
  expect(log).toMatch(
    /init: agentd (finished|ended by a termination signal before it took signals); powering off/,
  );
}, 90_000);

test("SIGTERM to init once agentd takes signals: agentd shuts down and exits 0, then the guest powers off", async () => {
  const { log } = await terminate("kill -TERM 1", { once: "handlers", ms: 20_000 });
  expect(log).toContain("init: agentd finished; powering off");
}, 90_000);

test("SIGTERM to init while agentd dies some other way (SIGKILL): the guest powers off, agentd is not restarted", async () => {
  // Stopped first, so that it cannot end this script's session when the termination reaches it;
  // the SIGKILL then ends it with the termination still pending.
  const script = "a=$(pidof agentd); kill -STOP $a; kill -TERM 1; sleep 0.2; kill -9 $a";
  const { log } = await terminate(script, { once: "handlers", ms: 20_000 });
  expect(log).toContain("init: agentd ended after a termination request; powering off");
}, 90_000);

test("SIGTERM to init while agentd cannot answer (stopped): init powers off after its 10 s grace", async () => {
  const script = "kill -STOP $(pidof agentd); kill -TERM 1";
  const { log, tookMs } = await terminate(script, { once: "handlers", ms: 30_000 });
  expect(tookMs).toBeGreaterThan(9_000);
  expect(log).toContain("init: agentd did not end within 10 s of a termination request; powering off");
}, 90_000);
