/**
 * A termination sent to init (SIGTERM, as a host's or the guest's own shutdown sends it) always
 * powers the guest off: init forwards it to agentd and never answers it with a restart, whether
 * agentd shuts down cleanly, dies some other way, takes no signals yet (in the guest agentd takes
 * them only a moment after core.ready, agentd/main.ts) or does not end at all (init/init.c). Each
 * test boots its own guest, since each ends it.
 */
import { afterEach, expect, test } from "bun:test";
import { parseBootLine } from "../../agentd/boot-line.ts";
import { bootGuest, consoleOf, untilConsole, type Guest } from "./harness.ts";

let guest: Guest | null = null;
afterEach(async () => {
  await guest?.stop();
  guest = null;
}, 60_000);

/** Whether QEMU (pid) has exited within `ms`. */
async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await Bun.sleep(50);
  }
  return false;
}

/** Runs `script` in the guest without waiting for it: the guest may go away under it. */
async function fire(g: Guest, script: string): Promise<void> {
  const c = await g.connect();
  await c.ready;
  void c
    .exec("sh", ["-c", script])
    .collect()
    .catch(() => {});
}

test("SIGTERM to init as the first command after boot powers the guest off, never restarts agentd", async () => {
  guest = await bootGuest();
  // The first exec comes 60-120 ms after core.ready under TCG, before agentd takes signals
  // (AFTER_READY_DEFER_MS): agentd then ends by the signal itself.
  await fire(guest, "kill -TERM 1");
  expect(await exitsWithin(guest.state.pid, 20_000)).toBe(true);
  const log = consoleOf(guest);
  expect(log).toMatch(/init: agentd (finished|ended after a termination request); powering off/);
  expect(log).toContain("reboot: Power down");
  expect(log).not.toContain("restarting agentd");
  expect(log).not.toContain("Kernel panic");
}, 90_000);

test("SIGTERM to init once agentd takes signals: agentd shuts down and exits 0, then the guest powers off", async () => {
  guest = await bootGuest();
  // The boot line is written right after agentd took its signal handlers.
  await untilConsole(guest, (l) => parseBootLine(l) !== null, 10_000);
  await fire(guest, "kill -TERM 1");
  expect(await exitsWithin(guest.state.pid, 20_000)).toBe(true);
  const log = consoleOf(guest);
  expect(log).toContain("init: agentd finished; powering off");
  expect(log).not.toContain("restarting agentd");
}, 90_000);

test("SIGTERM to init while agentd dies some other way (SIGKILL): the guest powers off, agentd is not restarted", async () => {
  guest = await bootGuest();
  await untilConsole(guest, (l) => parseBootLine(l) !== null, 10_000);
  // Stopped first, so that it cannot end this script's session when the termination reaches it;
  // the SIGKILL then ends it with the termination still pending.
  await fire(guest, "a=$(pidof agentd); kill -STOP $a; kill -TERM 1; sleep 0.2; kill -9 $a");
  expect(await exitsWithin(guest.state.pid, 20_000)).toBe(true);
  const log = consoleOf(guest);
  expect(log).toContain("init: agentd ended after a termination request; powering off");
  expect(log).not.toContain("restarting agentd");
}, 90_000);

test("SIGTERM to init while agentd cannot answer (stopped): init powers off after its 10 s grace", async () => {
  guest = await bootGuest();
  await untilConsole(guest, (l) => parseBootLine(l) !== null, 10_000);
  const t0 = Date.now();
  await fire(guest, "kill -STOP $(pidof agentd); kill -TERM 1");
  expect(await exitsWithin(guest.state.pid, 30_000)).toBe(true);
  expect(Date.now() - t0).toBeGreaterThan(9_000);
  const log = consoleOf(guest);
  expect(log).toContain("init: agentd did not end within 10 s of a termination request; powering off");
  expect(log).toContain("reboot: Power down");
}, 90_000);
