/**
 * The table the main thread and the polling Worker share for output pipes (Int32): [0] slots in
 * use (a high-water mark), then per slot [fd, armed]. The main thread writes fds and arms; the
 * Worker disarms with compare-and-swap 1 → 0, so a slot released meanwhile is never reported.
 * Pure functions over the array, used from both sides.
 */

/** Pipes watched at once: two per exec session (stdout, stderr) plus a status pipe while spawning. */
export const MAX_WATCHED = 1024;

export function newOutputTable(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (1 + MAX_WATCHED * 2));
}

export interface Armed {
  slot: number;
  fd: number;
}

/** The armed slots now, with their descriptors (the Worker's poll set). */
export function armedOutputs(t: Int32Array): Armed[] {
  const out: Armed[] = [];
  const used = Atomics.load(t, 0);
  for (let s = 0; s < used; s++) {
    if (Atomics.load(t, 2 + s * 2) === 1) out.push({ slot: s, fd: Atomics.load(t, 1 + s * 2) });
  }
  return out;
}

/**
 * Disarms and returns the slots whose poll reported anything (POLLIN, POLLHUP at the end,
 * POLLERR, POLLNVAL): the read that follows tells which.
 */
export function takeReady(t: Int32Array, armed: readonly Armed[], revents: readonly number[]): number[] {
  const ready: number[] = [];
  armed.forEach((a, i) => {
    if (revents[i] && Atomics.compareExchange(t, 2 + a.slot * 2, 1, 0) === 1) ready.push(a.slot);
  });
  return ready;
}

export function setSlot(t: Int32Array, slot: number, fd: number, armed: 0 | 1): void {
  Atomics.store(t, 1 + slot * 2, fd);
  Atomics.store(t, 2 + slot * 2, armed);
}

export function arm(t: Int32Array, slot: number): void {
  Atomics.store(t, 2 + slot * 2, 1);
}

export function setUsed(t: Int32Array, used: number): void {
  Atomics.store(t, 0, used);
}
