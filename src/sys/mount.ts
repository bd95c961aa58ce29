/** mount(2) and umount2(2) with the flag names of <sys/mount.h>. */
import { cstr } from "./cstr.ts";
import { check, libc } from "./libc.ts";

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_RELATIME = 0x200000;
export const MS_SHARED = 0x100000;
export const MNT_DETACH = 0x2;

const cOrNull = (s: string | null) => (s === null ? null : cstr(s));

/** mount(2); throws SysError naming the target, the type and the errno. */
export function mount(
  source: string,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(
    libc().mount(cstr(source), cstr(target), cOrNull(fstype), flags, cOrNull(data)),
    "mount",
    `${fstype ?? "bind"} ${source} on ${target}`,
  );
}

export function umount(target: string, flags = 0): void {
  check(libc().umount2(cstr(target), flags), "umount2", target);
}
