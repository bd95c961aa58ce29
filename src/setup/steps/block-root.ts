/**
 * Step 3: switch to a block-device root. The device is mounted at /newroot (with fstype=, or
 * trying each disk filesystem the kernel knows), /.msb is bound into it, it is moved onto / and
 * we chroot into it; the caller then mounts the kernel filesystems again (step 1).
 *
 * A restarted agentd is started by init, which stays in the initramfs; it must find the same
 * root. So before the move the new root is made shared and a peer of it is kept at RESTART_ROOT
 * in the initramfs: later mounts in the new root propagate there, and a restarted agentd
 * chroots into it (enterSwitchedRoot).
 */
import { exists, makeDirs, readText } from "../../sys/files.ts";
import { RUNTIME_MOUNT_POINT } from "../../protocol/constants.ts";
import { SysError } from "../../sys/libc.ts";
import { mount, MS_BIND, MS_MOVE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SHARED } from "../../sys/mount.ts";
import { chdir, chroot } from "../../sys/system.ts";
import type { BlockRoot } from "../grammar.ts";

export const NEW_ROOT = "/newroot";
/** Where the switched root stays reachable from the initramfs for a restarted agentd. */
export const RESTART_ROOT = "/.agentd-root";
const AGENTD_DIR = "/.agentd";

/** Disk filesystems the kernel can mount now (the lines of /proc/filesystems without nodev). */
export function diskFilesystems(procFilesystems: string): string[] {
  return procFilesystems
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("nodev"))
    .map((l) => l.trim());
}

function mountDevice(b: BlockRoot): string {
  const types = b.fstype ? [b.fstype] : diskFilesystems(readText("/proc/filesystems"));
  const errors: string[] = [];
  for (const t of types) {
    try {
      mount(b.device, NEW_ROOT, t, 0);
      return t;
    } catch (e) {
      errors.push(`${t}: ${e instanceof SysError ? e.message.split(": ").slice(-1)[0] : String(e)}`);
    }
  }
  throw new Error(
    `cannot mount ${b.device} (${errors.join("; ") || "no disk filesystem known to the kernel"})`,
  );
}

export function switchRoot(b: BlockRoot): string {
  if (!exists(b.device)) throw new Error(`${b.device} does not exist`);
  makeDirs(NEW_ROOT);
  const fstype = mountDevice(b);
  mount("none", NEW_ROOT, null, MS_SHARED);
  makeDirs(RESTART_ROOT);
  mount(NEW_ROOT, RESTART_ROOT, null, MS_BIND);
  makeDirs(NEW_ROOT + RUNTIME_MOUNT_POINT);
  mount(RUNTIME_MOUNT_POINT, NEW_ROOT + RUNTIME_MOUNT_POINT, null, MS_BIND | MS_REC);
  // The exec helper must be reachable in the new root; an image without /.agentd gets ours.
  if (!exists(`${NEW_ROOT}${AGENTD_DIR}/bin/agentd-exec`)) {
    makeDirs(NEW_ROOT + AGENTD_DIR);
    mount(AGENTD_DIR, NEW_ROOT + AGENTD_DIR, null, MS_BIND);
    mount(AGENTD_DIR, NEW_ROOT + AGENTD_DIR, null, MS_BIND | MS_REMOUNT | MS_RDONLY);
  }
  chdir(NEW_ROOT);
  mount(".", "/", null, MS_MOVE);
  chroot(".");
  chdir("/");
  return fstype;
}

/** For a restarted agentd: true when a switched root exists, after entering it. */
export function enterSwitchedRoot(): boolean {
  let mounted = false;
  try {
    mounted = readText("/proc/self/mountinfo")
      .split("\n")
      .some((l) => l.split(" ")[4] === RESTART_ROOT);
  } catch {
    return false;
  }
  if (!mounted) return false;
  chdir(RESTART_ROOT);
  chroot(".");
  chdir("/");
  return true;
}
