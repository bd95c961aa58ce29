/**
 * The table the main thread and the polling Worker share for the children's pipes (Int32): [0]
 * slots in use (a high-water mark), then per slot [fd, armed]. `armed` is 0 or the poll events
 * waited for (POLLIN for an output pipe, POLLOUT for a stdin pipe). The main thread writes fds
 * and arms; the Worker disarms with compare-and-swap events → 0, so a slot released or re-armed
 * meanwhile is never reported. Pure functions over the array, used from both sides.
 */
import { POLLIN, POLLOUT } from "../../sys/poll-events.ts";

/**
 * Pipes watched at once: up to three per exec session (stdout, stderr, and stdin once the child
 * is slow to read it).
 */
export const MAX_WATCHED = 1024;

export function newOutputTable(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (1 + MAX_WATCHED * 2));
}

export const WANT_READ = POLLIN;
export const WANT_WRITE = POLLOUT;
export type Want = typeof WANT_READ | typeof WANT_WRITE;

export interface Armed {
  slot: number;
  fd: number;
  events: number;
}

/**
 * The armed slots now, with their descriptors (the Worker's poll set), into `into`, reusing its
 * objects (the port thread's loop calls this every round and must not make garbage per armed
 * pipe); returns how many of its entries are current. Entries past that are left in place for
 * the next round.
 */
export function collectArmed(t: Int32Array, into: Armed[]): number {
  const used = Atomics.load(t, 0);
  let n = 0;
  for (let s = 0; s < used; s++) {
    const events = Atomics.load(t, 2 + s * 2);
    if (events === 0) continue;
    const fd = Atomics.load(t, 1 + s * 2);
    const a = into[n];
    if (a) {
      a.slot = s;
      a.fd = fd;
      a.events = events;
    } else into[n] = { slot: s, fd, events };
    n++;
  }
  return n;
}

/**
 * Disarms and returns the slots whose poll reported anything (POLLIN or POLLOUT, POLLHUP at the
 * end, POLLERR, POLLNVAL): the read or write that follows tells which. `revents(i)` is what the
 * poll said for armed[i]; only the first `count` entries of `armed` are current.
 */
export function takeReady(
  t: Int32Array,
  armed: readonly Armed[],
  revents: (i: number) => number,
  count = armed.length,
): number[] {
  const ready: number[] = [];
  for (let i = 0; i < count; i++) {
    const a = armed[i]!;
    if (revents(i) && Atomics.compareExchange(t, 2 + a.slot * 2, a.events, 0) === a.events)
      ready.push(a.slot);
  }
  return ready;
}

export function setSlot(t: Int32Array, slot: number, fd: number, armed: 0 | Want): void {
  Atomics.store(t, 1 + slot * 2, fd);
  Atomics.store(t, 2 + slot * 2, armed);
}

export function arm(t: Int32Array, slot: number, want: Want = WANT_READ): void {
  Atomics.store(t, 2 + slot * 2, want);
}

export function setUsed(t: Int32Array, used: number): void {
  Atomics.store(t, 0, used);
}
