/**
 * Chooses the accelerator. KVM is used only when a quick probe shows a kernel really runs under
 * it (on some machines /dev/kvm exists but KVM hangs); the result is cached. Otherwise TCG.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const PROBE_TIMEOUT_MS = 5000;

type Accel = "tcg" | "kvm";

/**
 * The cached probe answer, when it still holds. The probe tests the host's KVM, not the kernel
 * it boots, so an answer holds for every image until the host reboots (its boot_id changes).
 * Keyed by the kernel's path alone, as it was, a guest of another image paid the probe again:
 * on a host where KVM hangs, its whole 5 s timeout before each boot that switched images (8.9
 * against 4.2 s from QEMU's start to the first command). A cache with no boot id holds for its
 * own kernel only.
 */
export function cachedAccel(text: string, kernel: string, bootId: string | null): Accel | null {
  let c: { kernel?: unknown; accel?: unknown; bootId?: unknown };
  try {
    c = JSON.parse(text);
  } catch {
    return null;
  }
  if (c.accel !== "kvm" && c.accel !== "tcg") return null;
  const holds = bootId !== null && typeof c.bootId === "string" ? c.bootId === bootId : c.kernel === kernel;
  return holds ? c.accel : null;
}

function hostBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
  } catch {
    return null;
  }
}

export async function chooseAccel(
  kernel: string,
  cacheDir: string,
  wanted: string | undefined,
): Promise<Accel> {
  if (wanted === "tcg" || wanted === "kvm") return wanted;
  if (!existsSync("/dev/kvm")) return "tcg";
  const cache = join(cacheDir, "kvm-probe.json");
  const bootId = hostBootId();
  let text = "";
  try {
    text = readFileSync(cache, "utf8");
  } catch {
    // No cached answer yet.
  }
  const known = cachedAccel(text, kernel, bootId);
  if (known) return known;
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
  writeFileSync(cache, JSON.stringify({ kernel, accel, bootId }));
  return accel;
}
