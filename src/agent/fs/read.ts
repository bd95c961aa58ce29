/**
 * Read: streams a file as fs.data chunks of at most FS_CHUNK_SIZE, each produced only when the
 * output queue has room, so a slow host never makes agentd hold more than the queue's bound.
 */
import { open } from "node:fs/promises";
import { FS_CHUNK_SIZE } from "../../protocol/constants.ts";

/**
 * Bytes read per fs.data chunk: 1 MiB, a third of what the protocol allows. Smaller chunks keep
 * less memory in flight (agentd's RSS budget) and let an interactive frame slip in sooner behind
 * a download; at 1 MiB the per-frame cost is still negligible.
 */
export const READ_CHUNK = Math.min(FS_CHUNK_SIZE, 1024 * 1024);
import type { OutputQueue } from "../output-queue.ts";
import { errnoError, fsFailure, step } from "./errors.ts";

/** Sends the file's content through `emit`; throws FsFailure with prefix open/read. */
export async function readOp(
  path: string,
  queue: OutputQueue,
  emit: (data: Uint8Array) => void,
): Promise<void> {
  const fh = await step("open", () => open(path, "r"));
  try {
    const s = await step("read", () => fh.stat());
    if (s.isDirectory()) throw fsFailure("read", errnoError("EISDIR", "is a directory"));
    // One buffer for the whole read: emit() copies each chunk into its frame before the next read.
    const buf = new Uint8Array(READ_CHUNK);
    for (;;) {
      const room = queue.room();
      if (room) await room;
      if (queue.closed) return;
      const { bytesRead } = await step("read", () => fh.read(buf, 0, READ_CHUNK, null));
      if (bytesRead === 0) return;
      emit(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
