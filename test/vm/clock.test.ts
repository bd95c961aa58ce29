/**
 * Guest time under TCG: the kernel keeps time on the TSC (the launcher passes tsc=reliable, see
 * qemu-args.ts), so clock_gettime(2) is served by the vDSO instead of a system call and an HPET
 * read; and that clock never goes backwards from one vCPU to the other.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "./harness.ts";
import { guestPerFile } from "./guest-per-file.ts";

const guest = guestPerFile();

test("a TCG guest keeps time on the TSC (a KVM guest on kvm-clock)", async () => {
  const c = await guest.connect();
  try {
    const r = await c
      .exec("cat", ["/sys/devices/system/clocksource/clocksource0/current_clocksource"])
      .collect();
    expect(text(r.stdout).trim()).toBe(guest.state.accel === "tcg" ? "tsc" : "kvm-clock");
  } finally {
    c.close();
  }
});

test("CLOCK_MONOTONIC never goes backwards between the two vCPUs (20000 hand-overs)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "clock-warp-"));
  const c = await guest.connect();
  try {
    const bin = join(dir, "clock-warp");
    const src = join(import.meta.dir, "programs", "clock-warp.c");
    const cc = Bun.spawnSync(["musl-gcc", "-static", "-O2", "-pthread", "-o", bin, src], { stderr: "pipe" });
    expect(cc.exitCode, cc.stderr.toString()).toBe(0);
    await c.writeFile("/tmp/clock-warp", readFileSync(bin), 0o755);
    const r = await c.exec("/tmp/clock-warp", ["20000"]).collect();
    expect(text(r.stdout).trim()).toBe("rounds 20000 warps 0 worst 0");
    expect(r.code).toBe(0);
  } finally {
    c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
