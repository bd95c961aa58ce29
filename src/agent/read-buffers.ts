/**
 * The read buffers of everything agentd sends to the host in bulk: pipe output (exec/pump.ts)
 * and fs read (fs/read.ts), one pool for both. A read fills a buffer, its frames are written to
 * the host straight from it, and it comes back when the last one is written.
 *
 * One pool, bounded by what the output queue can hold at its high-water mark plus the read in
 * progress: the queue is shared by every session, so more buffers than that would only sit full
 * behind it. Two pools (3 for pipes, 2 for files) held up to 5 MiB at once under mixed load.
 * The buffers come from the frame pool's free ones and go back there when no stream holds them
 * (see frame-pool.ts), so uploads and downloads reuse the same memory.
 */
import { BufferPool } from "./fs/buffer-pool.ts";
import { sharedFrameBuffers } from "./frame-pool.ts";
import { BULK_FRAME_MAX, OUTPUT_HIGH_WATER } from "./output-queue.ts";

/**
 * Bytes per read: 1 MiB, sent as four frames of the queue's bulk size (frames stay short for the
 * sake of terminal latency; a read is not a frame). Each read is a turn of agentd's main thread,
 * which is what limits a download under TCG: for pipes 512 KiB -> 1 MiB gave 69.0 -> 76.9 MB/s (6
 * guests x 4 streams of 256 MiB), for files 91 instead of 72 MB/s (5 guests x 4 reads).
 */
export const READ_BUFFER_SIZE = 4 * BULK_FRAME_MAX;

export const readBuffers = new BufferPool(
  READ_BUFFER_SIZE,
  OUTPUT_HIGH_WATER / READ_BUFFER_SIZE + 1,
  0,
  sharedFrameBuffers,
);
