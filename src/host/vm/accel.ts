/**
 * Chooses the accelerator. KVM is used only when a quick probe shows a kernel really runs under
 * it (on some machines /dev/kvm exists but KVM hangs); the result is cached. Otherwise TCG.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const PROBE_TIMEOUT_MS = 5000;

export async function chooseAccel(
  kernel: string,
  cacheDir: string,
  wanted: string | undefined,
): Promise<"tcg" | "kvm"> {
  if (wanted === "tcg" || wanted === "kvm") return wanted;
  if (!existsSync("/dev/kvm")) return "tcg";
  const cache = join(cacheDir, "kvm-probe.json");
  try {
    const c = JSON.parse(readFileSync(cache, "utf8"));
    if (c.kernel === kernel && (c.accel === "kvm" || c.accel === "tcg")) return c.accel;
  } catch {
    // No cached answer yet.
  }
  // A kernel with no root panics at once; under working KVM that takes well under a second.
  const p = Bun.spawn(
    [
      "qemu-system-x86_64",
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-M",
      "pc",
      "-m",
      "256",
      "-nodefaults",
      "-no-user-config",
      "-nographic",
      "-no-reboot",
      "-kernel",
      kernel,
      "-append",
      "console=ttyS0 panic=-1",
      "-serial",
      "stdio",
    ],
    { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  const timer = setTimeout(() => p.kill(9), PROBE_TIMEOUT_MS);
  const out = await new Response(p.stdout).text();
  await p.exited;
  clearTimeout(timer);
  const accel = /Kernel panic|VFS: Unable/.test(out) ? "kvm" : "tcg";
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cache, JSON.stringify({ kernel, accel }));
  return accel;
}
