/** Whole-system calls: chroot, sethostname, sync, reboot. */
import { check, libc } from "./libc.ts";

export const RB_POWER_OFF = 0x4321fedc;

export function chroot(path: string): void {
  check(libc().chroot(Buffer.from(path + "\0")), "chroot", path);
}

/** chdir(2) through libc, so it applies to the process before a chroot (not just to Node's view). */
export function chdir(path: string): void {
  check(libc().chdir(Buffer.from(path + "\0")), "chdir", path);
}

export function sethostname(name: string): void {
  const bytes = Buffer.from(name);
  check(libc().sethostname(bytes, bytes.length), "sethostname", name);
}

export function sync(): void {
  libc().sync();
}

export function powerOff(): void {
  check(libc().reboot(RB_POWER_OFF), "reboot", "RB_POWER_OFF");
}
