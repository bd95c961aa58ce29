/**
 * Read: streams a file as fs.data frames, each produced only when the output queue has room, so
 * a slow host never makes agentd hold more than the queue's bound plus the lent read buffers.
 */
import { open } from "node:fs/promises";
import { FS_CHUNK_SIZE } from "../../protocol/constants.ts";
import { emitInBulkFrames, type Emit, type OutputQueue } from "../output-queue.ts";
import { READ_BUFFER_SIZE, readBuffers as pool } from "../read-buffers.ts";
import { errnoError, fsFailure, step } from "./errors.ts";

/** Bytes per read(2) (see read-buffers.ts): fs.data frames stay at the bulk frame size. */
export const READ_CHUNK = Math.min(FS_CHUNK_SIZE, READ_BUFFER_SIZE);

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
