/**
 * The table of children's stdin pipes the port thread may write to itself, straight from the
 * inbox slot the host's bytes were read into (port/inbound-split.ts), shared with the main thread
 * (port/direct-stdin.ts). Int32: [0] entries to scan (up to the highest ever used), [1] DONE: bytes
 * of the host's stream the main thread has handled, modulo 2^32, [2] 1 while the port thread
 * waits for DONE to reach what it handed on (waitDone); then per entry:
 *   STATE  FREE; DIRECT (set by the main thread: the port thread may write); CLOSING (set by
 *          either: no more writes, the port thread closes FD and frees the entry)
 *   ID     the exec session
 *   FD     the port thread's own descriptor of the pipe, a dup: the main thread closes its own,
 *          and the child sees the end of its stdin once both are closed
 *   HELD   1 while the main thread's writer holds stdin it has not written yet
 *   GEN    the entry's uses, so that a session long gone cannot stop a newer one's entry
 *
 * Order: the port thread writes a frame's data itself only when the main thread has handled every
 * byte the port thread handed it (DONE), and the session's writer holds nothing (HELD). Then
 * nothing the host sent before that frame can still be on its way to the same pipe. The main
 * thread sets HELD before it adds to DONE, and the port thread reads DONE before HELD (both
 * sequentially consistent), so a chunk just handed to the writer is never overtaken.
 * Pure functions over the array, used from both sides.
 */

/** Sessions whose stdin the port thread writes at once; more go through the main thread only. */
export const MAX_DIRECT = 64;

const HEADER = 3;
const DONE = 1;
const DONE_WAITER = 2;
const WORDS = 5;
const STATE = 0;
const ID = 1;
const FD = 2;
const HELD = 3;
const GEN = 4;

const FREE = 0;
const DIRECT = 1;
const CLOSING = 2;

const at = (entry: number, word: number) => HEADER + entry * WORDS + word;

export function newStdinTable(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (HEADER + MAX_DIRECT * WORDS));
}

/** An entry as the main thread holds it: the entry and its use. */
export interface StdinEntry {
  entry: number;
  gen: number;
}

/**
 * Main thread: an entry for session `id`'s pipe (`fd`, the port thread's own copy), its writer
 * holding data until it says otherwise; null when all are in use.
 */
export function claimEntry(t: Int32Array, id: number, fd: number): StdinEntry | null {
  for (let e = 0; e < MAX_DIRECT; e++) {
    if (Atomics.load(t, at(e, STATE)) !== FREE) continue;
    const gen = (Atomics.load(t, at(e, GEN)) + 1) | 0;
    Atomics.store(t, at(e, GEN), gen);
    Atomics.store(t, at(e, ID), id);
    Atomics.store(t, at(e, FD), fd);
    Atomics.store(t, at(e, HELD), 1);
    Atomics.store(t, at(e, STATE), DIRECT);
    if (Atomics.load(t, 0) <= e) Atomics.store(t, 0, e + 1);
    return { entry: e, gen };
  }
  return null;
}

/** Main thread: whether the session's writer holds stdin (no-op for an entry since reused). */
export function setHeld(t: Int32Array, { entry, gen }: StdinEntry, held: boolean): void {
  if (Atomics.load(t, at(entry, GEN)) === gen) Atomics.store(t, at(entry, HELD), held ? 1 : 0);
}

/**
 * Main thread: no more writes from the port thread, which then closes its descriptor. False when
 * the entry was already stopped (or reused): nothing to wake the port thread for.
 */
export function stopEntry(t: Int32Array, { entry, gen }: StdinEntry): boolean {
  if (Atomics.load(t, at(entry, GEN)) !== gen) return false;
  return Atomics.compareExchange(t, at(entry, STATE), DIRECT, CLOSING) === DIRECT;
}

/** Main thread: `n` more bytes of the host's stream handled (after any HELD they set). */
export function addDone(t: Int32Array, n: number): void {
  if (n <= 0) return;
  Atomics.add(t, DONE, n);
  // Woken only when waiting: a notify per slot with nobody waiting costs (see port/inbox.ts).
  if (Atomics.load(t, DONE_WAITER) !== 0) Atomics.notify(t, DONE);
}

/** Port thread: bytes of the stream the main thread has handled, modulo 2^32 (as an Int32). */
export function doneBytes(t: Int32Array): number {
  return Atomics.load(t, DONE);
}

/**
 * Port thread: waits until the main thread has handled `forwarded` bytes (modulo 2^32), for at
 * most `ms`; true when it has. The word is set before DONE is read, and the main thread adds to
 * DONE before it reads the word, so a wake-up is never missed.
 */
export function waitDone(t: Int32Array, forwarded: number, ms: number): boolean {
  const end = performance.now() + ms;
  Atomics.store(t, DONE_WAITER, 1);
  try {
    for (;;) {
      const done = Atomics.load(t, DONE);
      if (done === forwarded) return true;
      const left = end - performance.now();
      if (left <= 0) return false;
      Atomics.wait(t, DONE, done, left);
    }
  } finally {
    Atomics.store(t, DONE_WAITER, 0);
  }
}

/** Port thread: the entry session `id`'s data may be written through now, or -1. */
export function directEntry(t: Int32Array, id: number): number {
  const used = Atomics.load(t, 0);
  for (let e = 0; e < used; e++) {
    if (Atomics.load(t, at(e, STATE)) !== DIRECT || Atomics.load(t, at(e, ID)) !== id) continue;
    return Atomics.load(t, at(e, HELD)) === 0 ? e : -1;
  }
  return -1;
}

/** Port thread: the entry's descriptor while it is DIRECT, else -1 (stopped: write no more). */
export function entryFd(t: Int32Array, entry: number): number {
  return Atomics.load(t, at(entry, STATE)) === DIRECT ? Atomics.load(t, at(entry, FD)) : -1;
}

/** Port thread: a write to the entry's pipe failed; the main thread's writer reports it. */
export function failEntry(t: Int32Array, entry: number): void {
  Atomics.compareExchange(t, at(entry, STATE), DIRECT, CLOSING);
}

/** Port thread: closes the descriptors of stopped entries (`close`) and frees them. */
export function sweepStopped(t: Int32Array, close: (fd: number) => void): void {
  const used = Atomics.load(t, 0);
  for (let e = 0; e < used; e++) {
    if (Atomics.load(t, at(e, STATE)) !== CLOSING) continue;
    close(Atomics.load(t, at(e, FD)));
    Atomics.store(t, at(e, STATE), FREE);
  }
}
