/**
 * Step 1: the kernel filesystems every program expects (PROTOCOL.md §8.1). A target that is
 * already mounted (EBUSY: init mounted /dev and /proc, or this runs again after a root switch)
 * is fine.
 */
import { exists, existsNoFollow, makeDirs, readText, symlink } from "../../sys/files.ts";
import { SysError } from "../../sys/libc.ts";
import { mount, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RELATIME } from "../../sys/mount.ts";

const EBUSY = 16;

export interface Fs {
  /** Source: the fs type for kernel filesystems, the tag for virtiofs. */
  source?: string;
  type: string;
  target: string;
  flags: number;
  data?: string;
}

export const BASE_MOUNTS: readonly Fs[] = [
  { type: "devtmpfs", target: "/dev", flags: MS_NOSUID },
  { type: "proc", target: "/proc", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME },
  { type: "sysfs", target: "/sys", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME },
  { type: "cgroup2", target: "/sys/fs/cgroup", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME },
  {
    type: "devpts",
    target: "/dev/pts",
    flags: MS_NOSUID | MS_NOEXEC | MS_RELATIME,
    data: "mode=0620,ptmxmode=0666",
  },
  { type: "tmpfs", target: "/dev/shm", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME },
];

/** Mount points and types from /proc/self/mountinfo (empty before /proc is mounted). */
function mounted(): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const line of readText("/proc/self/mountinfo").split("\n")) {
      const f = line.split(" ");
      const dash = f.indexOf("-");
      if (dash > 0) out.set(f[4]!, f[dash + 1]!);
    }
  } catch {
    // /proc not mounted yet.
  }
  return out;
}

/**
 * Mounts `fs` unless a filesystem of that type is already mounted there. Some types (proc,
 * sysfs) can be mounted twice without EBUSY, so "already mounted" is read from mountinfo first;
 * a caller mounting several passes the table it read once (`known`, kept up to date here).
 */
export function mountIfNeeded(fs: Fs, known: Map<string, string> = mounted()): void {
  if (known.get(fs.target) === fs.type) return;
  makeDirs(fs.target);
  try {
    mount(fs.source ?? fs.type, fs.target, fs.type, fs.flags, fs.data ?? null);
  } catch (e) {
    if (!(e instanceof SysError && e.errno === EBUSY)) throw e;
  }
  known.set(fs.target, fs.type);
}

export function baseMounts(): void {
  // mountinfo read once, not once per mount: at boot under TCG the first read took ~10 ms.
  let known = mounted();
  for (const fs of BASE_MOUNTS) {
    mountIfNeeded(fs, known);
    // Read before there was a /proc (the root is in every table read): read it now.
    if (fs.type === "proc" && !known.has("/")) known = mounted();
  }
  // No error object for the usual answer (no /dev/fd yet): at boot every code path runs for the
  // first time, when TCG translates it, and an exception's is a long one.
  if (!existsNoFollow("/dev/fd") && exists("/proc/self/fd")) symlink("/proc/self/fd", "/dev/fd");
}
