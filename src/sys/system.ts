/** Whole-system calls: chroot, sethostname, sync, reboot. */
import { cstr, utf8 } from "./cstr.ts";
import { check, libc, ptr } from "./libc.ts";

export const RB_POWER_OFF = 0x4321fedc;

export function chroot(path: string): void {
  check(libc().chroot(cstr(path)), "chroot", path);
}

/** chdir(2) through libc, so it applies to the process before a chroot (not just to Node's view). */
export function chdir(path: string): void {
  check(libc().chdir(cstr(path)), "chdir", path);
}

export function sethostname(name: string): void {
  const bytes = utf8(name);
  check(libc().sethostname(bytes, bytes.length), "sethostname", name);
}

export function sync(): void {
  libc().sync();
}

export function powerOff(): void {
  check(libc().reboot(RB_POWER_OFF), "reboot", "RB_POWER_OFF");
}

/** A NULL-terminated array of C strings; `keep` holds the buffers alive across the call. */
function cStringArray(items: readonly string[], keep: Uint8Array[]): BigUint64Array {
  const out = new BigUint64Array(items.length + 1);
  items.forEach((s, i) => {
    const b = cstr(s);
    keep.push(b);
    out[i] = BigInt(ptr(b));
  });
  return out;
}

/** execve(2): replaces this process; returns only by throwing. */
export function execve(path: string, argv: readonly string[], env: Readonly<Record<string, string>>): never {
  const keep: Uint8Array[] = [];
  const args = cStringArray(argv, keep);
  const envp = cStringArray(
    Object.entries(env).map(([k, v]) => `${k}=${v}`),
    keep,
  );
  check(libc().execve(cstr(path), ptr(args), ptr(envp)), "execve", path);
  throw new Error("execve returned");
}
