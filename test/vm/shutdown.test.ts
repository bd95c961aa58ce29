/**
 * core.shutdown on an ext4 block root with sessions running (one ignores SIGTERM): they are
 * ended, / is remounted read-only and the guest powers off; the host's `e2fsck -fn` finds the
 * image clean, and a file written just before the shutdown is in it.
 */
import { expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CACHE_DIR } from "../../src/host/paths.ts";
import { bootGuest } from "./harness.ts";
import { alive } from "../../src/host/process.ts";

test("shutdown with running sessions leaves a clean ext4 root holding the last write", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-vm-shutdown-"));
  try {
    const root = join(dir, "rootfs");
    for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "run"])
      mkdirSync(join(root, d), { recursive: true });
    copyFileSync(join(CACHE_DIR, "pkgs", "busybox-static", "bin", "busybox"), join(root, "bin", "busybox"));
    chmodSync(join(root, "bin", "busybox"), 0o755);
    for (const a of ["sh", "sleep", "cat"]) symlinkSync("busybox", join(root, "bin", a));
    const image = join(dir, "root.ext4");
    expect(Bun.spawnSync(["mkfs.ext4", "-q", "-F", "-d", root, image, "64M"]).exitCode).toBe(0);

    const guest = await bootGuest({ disk: image, env: ["MSB_BLOCK_ROOT=/dev/vda,fstype=ext4"] });
    const c = await guest.connect();
    const stubborn = c.exec("sh", ["-c", "trap '' TERM; while :; do sleep 1; done"]);
    const polite = c.exec("sleep", ["1000"]);
    await stubborn.started;
    await polite.started;
    await c.writeFile("/written-before-shutdown.txt", "made it to disk\n");
    await c.shutdown();
    const t = Date.now();
    while (alive(guest.state.pid) && Date.now() - t < 10_000) await Bun.sleep(50);
    expect(alive(guest.state.pid)).toBe(false);
    expect(await polite.exited).toEqual({ code: -1, signal: 15 });
    const console = readFileSync(guest.state.console_log, "utf8");
    expect(console).toContain("reboot: Power down");
    expect(console).not.toContain("remount / read-only");
    await guest.stop();

    const fsck = Bun.spawnSync(["e2fsck", "-fn", image], { stdout: "pipe", stderr: "pipe" });
    expect(fsck.stdout.toString() + fsck.stderr.toString()).not.toMatch(
      /recovering journal|needs_recovery|UNEXPECTED INCONSISTENCY/i,
    );
    expect(fsck.exitCode).toBe(0);
    const cat = Bun.spawnSync(["debugfs", "-R", "cat /written-before-shutdown.txt", image], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(cat.stdout.toString()).toBe("made it to disk\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
