/** Whole-system calls: chroot, sethostname, sync, reboot. */
import { check, libc, ptr } from "./libc.ts";

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

/** A NULL-terminated array of C strings; `keep` holds the buffers alive across the call. */
function cStringArray(items: readonly string[], keep: Buffer[]): BigUint64Array {
  const out = new BigUint64Array(items.length + 1);
  items.forEach((s, i) => {
    const b = Buffer.from(s + "\0");
    keep.push(b);
    out[i] = BigInt(ptr(b));
  });
  return out;
}

/** execve(2): replaces this process; returns only by throwing. */
export function execve(path: string, argv: readonly string[], env: Readonly<Record<string, string>>): never {
  const keep: Buffer[] = [];
  const args = cStringArray(argv, keep);
  const envp = cStringArray(
    Object.entries(env).map(([k, v]) => `${k}=${v}`),
    keep,
  );
  check(libc().execve(Buffer.from(path + "\0"), ptr(args), ptr(envp)), "execve", path);
  throw new Error("execve returned");
}
