/**
 * The guest's firmware: qboot, QEMU's minimal BIOS for booting a kernel it is handed (-kernel),
 * where QEMU ships it, else QEMU's default SeaBIOS. SeaBIOS sets up what a disk boot needs (option
 * ROMs, boot menus, a real-mode loader for the kernel); qboot only what Linux needs. Three boots
 * each, alternating, under TCG: a client's core.ready 2.12-2.24 s after QEMU's start against
 * 2.30-2.35 s with SeaBIOS (0.40-0.43 s before the kernel's clock starts against 0.45-0.46, and
 * the kernel's own way to core.ready 1.73-1.81 s against 1.84-1.89).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const QBOOT = "qboot.rom";

/** qboot's path in QEMU's data directory, or null when this QEMU has none. */
export function qbootRom(qemu: string): string | null {
  const found = Bun.which(qemu);
  const dirs = [
    ...(found ? [join(dirname(found), "..", "share", "qemu")] : []),
    "/usr/share/qemu",
    "/usr/local/share/qemu",
  ];
  for (const dir of dirs) if (existsSync(join(dir, QBOOT))) return join(dir, QBOOT);
  return null;
}
