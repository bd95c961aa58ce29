/**
 * A guest that shows no sign of life (src/host/vm/boot-watch.ts) is booted again once, and the
 * stuck attempt's console is kept. Made stuck here with QEMU's -S (its vCPUs never start, so the
 * console stays empty): on both attempts (the second then runs to its ready timeout), and on the
 * first only (the second boots and serves).
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootGuest, text } from "./harness.ts";

test("a boot with nothing past the firmware on its console is tried again once, its console kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-vm-stuck-"));
  try {
    const t0 = Date.now();
    const boot = bootGuest({
      stateDir: dir,
      extraQemuArgs: ["-S"],
      stuckBootMs: 2_000,
      readyTimeoutMs: 4_000,
    });
    await expect(boot).rejects.toThrow("no core.ready within 4 s");
    // Two attempts: the stuck one (2 s) and the last, which waits its whole timeout (4 s).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(6_000);
    expect(existsSync(join(dir, "console-stuck-1.log"))).toBe(true);
    expect(existsSync(join(dir, "console-stuck-2.log"))).toBe(false);
    // Nothing of either attempt is left running.
    const left = Bun.spawnSync(["pgrep", "-f", dir]).stdout.toString().trim();
    expect(left).toBe("");
  } finally {
    Bun.spawnSync(["pkill", "-9", "-f", dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test("a stuck first boot is followed by a good one: the guest serves, the stuck console is kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-vm-stuck-"));
  try {
    const guest = await bootGuest({ stateDir: dir, firstBootQemuArgs: ["-S"], stuckBootMs: 2_000 });
    try {
      const c = await guest.connect();
      expect(text((await c.exec("echo", ["second boot"]).collect()).stdout)).toBe("second boot\n");
      c.close();
      expect(existsSync(join(dir, "console-stuck-1.log"))).toBe(true);
    } finally {
      await guest.stop();
    }
  } finally {
    Bun.spawnSync(["pkill", "-9", "-f", dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
