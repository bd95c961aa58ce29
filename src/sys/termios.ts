/**
 * A terminal's mode: full raw mode as cfmakeraw(3) makes it (no echo, no line editing, no signal
 * keys, and no output processing, so the guest's "\r\n" is not turned into "\r\r\n" and bytes pass
 * unchanged), and the exact saved mode put back. Node's setRawMode keeps output processing on,
 * which is why agentctl does this itself, as ssh does.
 */
import { check, libc, ptr } from "./libc.ts";

/** sizeof(struct termios) is 60 on x86-64 glibc and musl; a larger buffer is harmless. */
const TERMIOS_SIZE = 64;
const TCSADRAIN = 1;

/** The terminal's current mode, to give to `setMode` later. */
export function getMode(fd: number): Uint8Array {
  const saved = new Uint8Array(TERMIOS_SIZE);
  check(libc().tcgetattr(fd, ptr(saved)), "tcgetattr", String(fd));
  return saved;
}

/** Puts the terminal in raw mode; returns the mode it had. */
export function makeRaw(fd: number): Uint8Array {
  const saved = getMode(fd);
  const raw = saved.slice();
  libc().cfmakeraw(ptr(raw));
  check(libc().tcsetattr(fd, TCSADRAIN, ptr(raw)), "tcsetattr", String(fd));
  return saved;
}

/** Puts back a mode from `getMode`/`makeRaw`. */
export function setMode(fd: number, mode: Uint8Array): void {
  check(libc().tcsetattr(fd, TCSADRAIN, ptr(mode)), "tcsetattr", String(fd));
}
