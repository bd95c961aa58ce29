/**
 * Buffers for large inbound frames (stdin and upload chunks, typically 1 MiB each), reused
 * instead of allocated per frame. Without it a steady upload made a 1 MiB buffer of garbage per
 * frame, and the allocator kept what the collector freed late: agentd's RSS rose by several MiB
 * during uploads and stayed there.
 *
 * The decoder takes frame buffers here; a frame's data is a view into its buffer, so the
 * consumer that is done with the data gives it back with `releaseFrameData(data)`: the fs write
 * once the bytes are written, the stdin writer once the pipe has them. Data nobody gives back
 * is simply collected. Each piece of data is given back at most once, by the one place that
 * holds it last (a chunk sits in exactly one queue at a time): a buffer given back is lent to
 * the next frame, so a second release of an old view would hand out a buffer still in use; a
 * buffer the pool does not keep is freed at once (detached), so a view kept past its release
 * reads as empty. Releasing data that is not from the pool, or from a buffer not lent now, does
 * nothing.
 */

import { MAX_FRAME_SIZE } from "../protocol/constants.ts";

/** Frames from this size up to CLASS_SIZE use pooled buffers; smaller ones are cheap as is. */
export const POOLED_MIN = 128 * 1024;
/** One size class: a 1 MiB chunk plus its frame header and CBOR envelope. */
export const CLASS_SIZE = 1024 * 1024 + 4096;
/**
 * Data of one piece of a larger stdin or fs.data frame (FrameDecoder's pieces): 1 MiB, a buffer of
 * the class above. Such frames are never gathered whole.
 */
export const PIECE_SIZE = 1024 * 1024;
/**
 * Frames above CLASS_SIZE, up to the largest the protocol allows (this bound: a whole frame of the
 * largest length, its length prefix included), get a buffer of their own size, lent so that a
 * release frees it at once. Rare: stdin and fs.data frames that large arrive in pieces
 * (PIECE_SIZE) and are never gathered whole; what is left is an exec request of megabytes or a
 * data frame in another form than the Rust host's. Kept large buffers served 3 MiB upload chunks
 * before those came in pieces (two kept: the memory test's largest frames peaked at 60-65 MiB
 * after a long load; pieces: see the README).
 */
export const LARGE_CLASS_SIZE = MAX_FRAME_SIZE + 4;
/** Free buffers kept (the inbound budget holds about two frames at once). */
const KEEP = 3;
/** Free buffers are freed after this long without an upload (idle RSS). */
const IDLE_TRIM_MS = 2000;

const free: ArrayBuffer[] = [];
/**
 * Buffers lent and not given back. Weak: a frame whose data nobody gives back (a large exec
 * request, stdin for a terminal, a chunk for a finished session) is collected with its buffer.
 */
const lent = new WeakSet<ArrayBuffer>();
/** Lendings not given back, for tests; data dropped without a release stays counted. */
let lentCount = 0;
let trimTimer: ReturnType<typeof setTimeout> | null = null;

/** A buffer of exactly `n` bytes: pooled when n is in the pooled range, else a new one. */
export function allocFrame(n: number): Uint8Array {
  if (n < POOLED_MIN || n > LARGE_CLASS_SIZE) return new Uint8Array(n);
  const buf = n <= CLASS_SIZE ? (free.pop() ?? new ArrayBuffer(CLASS_SIZE)) : new ArrayBuffer(n);
  lent.add(buf);
  lentCount++;
  scheduleTrim();
  return new Uint8Array(buf, 0, n);
}

/** Gives back the buffer behind `data` if it is a lent frame buffer; otherwise does nothing. */
export function releaseFrameData(data: Uint8Array): void {
  const buf = data.buffer as ArrayBuffer;
  if (!lent.delete(buf)) return;
  lentCount--;
  if (buf.byteLength === CLASS_SIZE && free.length < KEEP) {
    free.push(buf);
    scheduleTrim();
  } else discard(buf);
}

/**
 * A free buffer for another pool to own from now on (the download pools, see BufferPool), or
 * null. A download that follows an upload then reads into the buffers the upload left instead of
 * allocating its own beside them while these wait for the idle trim: the 3 MiB kept here were
 * still held during the next download (agentd's live array buffers 8 MB at a stdout's peak).
 */
export function adoptFree(): ArrayBuffer | null {
  return free.pop() ?? null;
}

/** Takes a buffer of CLASS_SIZE that another pool no longer needs into the free ones (up to KEEP). */
export function offerFree(buf: ArrayBuffer): void {
  if (buf.byteLength !== CLASS_SIZE || lent.has(buf) || free.includes(buf) || free.length >= KEEP) return;
  free.push(buf);
  scheduleTrim();
}

/** The download pools' source of buffers (BufferPool): this pool's free list. */
export const sharedFrameBuffers = { bufferSize: CLASS_SIZE, adopt: adoptFree, offer: offerFree };

/**
 * A buffer the pool lets go: its memory goes back to the allocator now (transfer(0) detaches it),
 * not at some later collection, so the next buffer reuses it instead of growing RSS beside it.
 */
function discard(buf: ArrayBuffer): void {
  buf.transfer(0);
}

let lastUse = 0;

/**
 * The free buffers go once the pool has not been used for IDLE_TRIM_MS. One timer, moved on by
 * itself: not a new timer per frame.
 */
function scheduleTrim(): void {
  lastUse = performance.now();
  if (trimTimer) return;
  const check = () => {
    const idle = performance.now() - lastUse;
    if (idle < IDLE_TRIM_MS) {
      trimTimer = setTimeout(check, IDLE_TRIM_MS - idle);
      trimTimer.unref?.();
      return;
    }
    trimTimer = null;
    for (const buf of free.splice(0)) discard(buf);
  };
  trimTimer = setTimeout(check, IDLE_TRIM_MS);
  trimTimer.unref?.();
}

/** For tests: buffers lent now and kept free. */
export function framePoolState(): { lent: number; free: number } {
  return { lent: lentCount, free: free.length };
}
