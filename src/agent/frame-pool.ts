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
 * The large class: any frame above CLASS_SIZE, up to the largest the protocol allows (fs.data
 * chunks of 3 MiB, as the Rust host sends them), this bound being a whole frame of the largest
 * length, its length prefix included. Each gets a buffer of its own size, or a kept one at least
 * as large (one upload's chunks are all of one size). Not pooled, each was a 3 MiB buffer of
 * garbage: an upload of one 256 MiB buffer in 3 MiB chunks took agentd's RSS to 71.6 MiB. Buffers
 * of exactly the frame's size and none kept were as small as it gets (the memory test's largest
 * frames peaked at 59.6-60.2 MiB), but the upload fell from 86-108 to 70-82 MB/s: a new buffer of
 * megabytes is new pages to fault in and clear, per frame.
 */
export const LARGE_CLASS_SIZE = MAX_FRAME_SIZE + 4;
/** Free buffers kept (the inbound budget holds about two frames at once). */
const KEEP = 3;
/**
 * Free large buffers kept: two, as many as are lent at once (the budget pauses reading after one
 * large frame is held, while the next is being gathered). With one kept, every other frame made a
 * new buffer and dropped one for the collector: after a long load agentd peaked at 58.6-70.5 MiB in
 * the memory test's largest frames.
 */
const KEEP_LARGE = 2;
/** Free buffers are freed after this long without an upload (idle RSS). */
const IDLE_TRIM_MS = 2000;

const free: ArrayBuffer[] = [];
const freeLarge: ArrayBuffer[] = [];
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
  const buf = n <= CLASS_SIZE ? (free.pop() ?? new ArrayBuffer(CLASS_SIZE)) : takeLarge(n);
  lent.add(buf);
  lentCount++;
  scheduleTrim();
  return new Uint8Array(buf, 0, n);
}

/**
 * A kept large buffer of at least `n` bytes, or a new one of exactly `n`; kept ones too small for
 * it go first (frames grew: an upload's 3 MiB chunks, then 3.5 MiB stdin frames), so that two of
 * each size are never held at once.
 */
function takeLarge(n: number): ArrayBuffer {
  const i = freeLarge.findIndex((b) => b.byteLength >= n);
  if (i >= 0) return freeLarge.splice(i, 1)[0]!;
  for (const small of freeLarge.splice(0)) discard(small);
  return new ArrayBuffer(n);
}

/** Gives back the buffer behind `data` if it is a lent frame buffer; otherwise does nothing. */
export function releaseFrameData(data: Uint8Array): void {
  const buf = data.buffer as ArrayBuffer;
  if (!lent.delete(buf)) return;
  lentCount--;
  if (buf.byteLength === CLASS_SIZE) {
    if (free.length < KEEP) free.push(buf);
    else discard(buf);
  } else {
    // The largest ones stay: they fit the most frames.
    freeLarge.push(buf);
    freeLarge.sort((a, b) => b.byteLength - a.byteLength);
    for (const extra of freeLarge.splice(KEEP_LARGE)) discard(extra);
  }
  scheduleTrim();
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
    for (const buf of freeLarge.splice(0)) discard(buf);
  };
  trimTimer = setTimeout(check, IDLE_TRIM_MS);
  trimTimer.unref?.();
}

/** For tests: buffers lent now and kept free. */
export function framePoolState(): { lent: number; free: number; freeLarge: number } {
  return { lent: lentCount, free: free.length, freeLarge: freeLarge.length };
}
