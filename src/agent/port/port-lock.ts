/**
 * Who may write the next frame to the virtio port. Two threads write it: the main thread (every
 * frame of the output queue) and the port thread (pipe output it copies itself, port/copy-loop.ts).
 * A frame must reach the port whole, so a writer owns the port from a frame's first byte to its
 * last; between frames it is free. Pure functions over the port's shared control words (Int32),
 * used from both threads.
 *
 * The main thread goes first: its frames are the urgent ones (a keystroke's echo, `exited`, fs
 * answers). When it finds the port taken it says so (MAIN_WAITING) and the port thread starts no
 * new frame until the main thread has had its turn; the port thread tells it (a "writable"
 * message) when it lets go. When the port thread finds the port taken or the main thread waiting,
 * it says so (WORKER_WAITING) and the main thread wakes it when it lets go. Each side announces
 * before it looks again, so a release between a failed attempt and the announcement is not missed.
 */

/** Control word indices (the port link's control array; 0 and 1 are the reader's flags). */
export const OWNER = 2;
export const MAIN_WAITING = 3;
export const WORKER_WAITING = 4;
/**
 * Not the lock's: what the reader's first round found, 0 until then (FIRST_ROUND_DOWN or
 * FIRST_ROUND_UP), for the main thread to take without a message (port-link.ts's servePort).
 */
export const FIRST_ROUND = 5;
export const FIRST_ROUND_DOWN = 1;
export const FIRST_ROUND_UP = 2;
/**
 * Not the lock's either: the port's descriptor + 1 once the main thread has opened it, 0 until
 * then, for a reader whose init said FD_LATER (port-link.ts's openPort).
 */
export const PORT_FD = 6;
/** The same for the read end of the wake pipe (port-link.ts's startPortReader). */
export const WAKE_FD = 7;
/**
 * ReaderInit's `fd` or `wakeFd` for a descriptor the reader is to take from PORT_FD or WAKE_FD
 * once it is there: the init is posted with the Worker's start (reader-start.ts), before libc is
 * open on the main thread.
 */
export const FD_LATER = -2;
/** Int32 words the control array needs. */
export const CONTROL_WORDS = 8;

export const FREE = 0;
export const MAIN = 1;
export const WORKER = 2;

/** The main thread's attempt to start a frame: true when it owns the port now. */
export function mainBegin(c: Int32Array): boolean {
  if (Atomics.load(c, OWNER) === MAIN) return true;
  if (Atomics.compareExchange(c, OWNER, FREE, MAIN) === FREE) {
    Atomics.store(c, MAIN_WAITING, 0);
    return true;
  }
  Atomics.store(c, MAIN_WAITING, 1);
  if (Atomics.compareExchange(c, OWNER, FREE, MAIN) === FREE) {
    Atomics.store(c, MAIN_WAITING, 0);
    return true;
  }
  return false;
}

/**
 * The main thread ends its frame (or gives up waiting: its queue closed). Returns true when the
 * port thread is waiting for the port and must be woken.
 */
export function mainRelease(c: Int32Array): boolean {
  Atomics.store(c, MAIN_WAITING, 0);
  Atomics.compareExchange(c, OWNER, MAIN, FREE);
  return Atomics.load(c, WORKER_WAITING) === 1;
}

/**
 * The port thread's attempt to start a frame: true when it owns the port now. On false it has
 * announced that it waits (the main thread's release wakes it).
 */
export function workerBegin(c: Int32Array): boolean {
  if (Atomics.load(c, OWNER) === WORKER) return true;
  if (workerTake(c)) return true;
  Atomics.store(c, WORKER_WAITING, 1);
  if (workerTake(c)) return true;
  return false;
}

function workerTake(c: Int32Array): boolean {
  if (Atomics.load(c, MAIN_WAITING) === 1) return false;
  if (Atomics.compareExchange(c, OWNER, FREE, WORKER) !== FREE) return false;
  Atomics.store(c, WORKER_WAITING, 0);
  return true;
}

/** The port thread has nothing to copy: the main thread's releases need not wake it. */
export function workerIdle(c: Int32Array): void {
  Atomics.store(c, WORKER_WAITING, 0);
}

/** True when the port thread could start a frame now (it does not take the port). */
export function workerMay(c: Int32Array): boolean {
  const owner = Atomics.load(c, OWNER);
  return owner === WORKER || (owner === FREE && Atomics.load(c, MAIN_WAITING) === 0);
}

/**
 * workerMay for a thread about to sleep in poll(2) if the answer is no: then it announces that it
 * waits (the main thread's release wakes it) and looks once more, as workerBegin does.
 */
export function workerMayOrWait(c: Int32Array): boolean {
  if (workerMay(c)) return true;
  Atomics.store(c, WORKER_WAITING, 1);
  return workerMay(c);
}

/**
 * The port thread ends its frame (or drops it: the host went away). Returns true when the main
 * thread is waiting for the port and must be told.
 */
export function workerRelease(c: Int32Array): boolean {
  Atomics.compareExchange(c, OWNER, WORKER, FREE);
  return Atomics.load(c, MAIN_WAITING) === 1;
}
