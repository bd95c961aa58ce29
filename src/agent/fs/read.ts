/**
 * Read: streams a file as fs.data frames, each produced only when the output queue has room, so
 * a slow host never makes agentd hold more than the queue's bound plus the lent read buffers.
 */
import { open } from "node:fs/promises";
import { FS_CHUNK_SIZE } from "../../protocol/constants.ts";
import { emitInBulkFrames, type Emit, type OutputQueue } from "../output-queue.ts";
import { BufferPool } from "./buffer-pool.ts";
import { sharedFrameBuffers } from "../frame-pool.ts";
import { errnoError, fsFailure, step } from "./errors.ts";

/**
 * Bytes per read(2): 1 MiB, sent as fs.data frames of the queue's bulk frame size (so a
 * keystroke's echo waits behind no more than before). A read costs a thread-pool round trip and
 * a promise on the main thread, which is the bottleneck of a download under TCG: 1 MiB reads with
 * two buffers lent instead of 512 KiB with four (the same 2 MiB) gave 91 instead of 72 MB/s on
 * average over 5 guests x 4 reads of 256 MiB each, with lower RSS peaks (45.5-48.7 vs 48.9-53.2
 * MiB).
 */
export const READ_CHUNK = Math.min(FS_CHUNK_SIZE, 1024 * 1024);

/**
 * Shared by every Read: at most 2 MiB lent (the queue's 2 MiB bound is reached with the reads in
 * flight). Buffers come from and go back to the frame pool's free ones, as for pipe output.
 */
const pool = new BufferPool(READ_CHUNK, 2, 0, sharedFrameBuffers);

/** Streams the file's content through `emit`; throws FsFailure with prefix open/read. */
export async function readOp(path: string, queue: OutputQueue, emit: Emit): Promise<void> {
  const fh = await step("open", () => open(path, "r"));
  try {
    const s = await step("read", () => fh.stat());
    if (s.isDirectory()) throw fsFailure("read", errnoError("EISDIR", "is a directory"));
    for (;;) {
      const room = queue.room();
      if (room) await room;
      if (queue.closed) return;
      const buf = await pool.take();
      let bytesRead: number;
      try {
        ({ bytesRead } = await step("read", () => fh.read(buf, 0, READ_CHUNK, null)));
      } catch (e) {
        pool.give(buf);
        throw e;
      }
      if (bytesRead === 0 || queue.closed) return void pool.give(buf);
      emitInBulkFrames(buf.subarray(0, bytesRead), emit, () => pool.give(buf));
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
