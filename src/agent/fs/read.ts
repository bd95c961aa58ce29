/**
 * Read: streams a file as fs.data frames, each produced only when the output queue has room, so
 * a slow host never makes agentd hold more than the queue's bound plus the lent read buffers.
 *
 * A regular file on a filesystem kept in memory (tmpfs, ramfs: the default guest's root and /tmp)
 * is handed to the port thread instead, which reads it and writes its frames to the port itself
 * (port/copy-loop.ts), as it does with children's output: under TCG the main thread's promise,
 * queue and thread-pool hop per 1 MiB read were most of a read's cost. Only there: a read(2) from
 * memory never waits, where one from a disk or a virtiofs share may wait on the host for as long
 * as it likes, and the port thread must keep hearing the host. Backpressure is the port thread's
 * (it starts no frame while the port is full), and a host that leaves ends the copy.
 */
import { nodeFsPromises } from "../../lazy-node.ts";
import { FS_CHUNK_SIZE } from "../../protocol/constants.ts";
import { inMemoryFilesystem } from "../../sys/fd-io.ts";
import { emitInBulkFrames, type Emit, type OutputQueue } from "../output-queue.ts";
import type { CopyJob, PortCopier } from "../port/copier.ts";
import { READ_BUFFER_SIZE, readBuffers as pool } from "../read-buffers.ts";
import { errnoError, fsFailure, fsFailureErrno, step } from "./errors.ts";

/** Bytes per read(2) (see read-buffers.ts): fs.data frames stay at the bulk frame size. */
export const READ_CHUNK = Math.min(FS_CHUNK_SIZE, READ_BUFFER_SIZE);

/** Where a read's frames go. */
export interface ReadTarget {
  /** The request's id: its fs.data frames carry it. */
  id: number;
  queue: OutputQueue;
  emit: Emit;
  /** The port thread's copier (guest mode), or null. */
  copier: PortCopier | null;
  /** Copies running now, for the connection to cancel when the host leaves. */
  copies: Set<CopyJob>;
}

/** Streams the file's content to the host; throws FsFailure with prefix open/read. */
export async function readOp(path: string, target: ReadTarget): Promise<void> {
  const fh = await step("open", () => nodeFsPromises().open(path, "r"));
  try {
    const s = await step("read", () => fh.stat());
    if (s.isDirectory()) throw fsFailure("read", errnoError("EISDIR", "is a directory"));
    // The port thread only with a slot free now; else the main thread reads, as for any file.
    const copier = target.copier;
    if (copier && s.isFile() && inMemoryFilesystem(fh.fd) && copier.reserve())
      return await copyByPortThread(fh.fd, copier, target);
    const { queue, emit } = target;
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

/**
 * The port thread copies the file from its current offset to its end; resolves once the last
 * frame is out (the response then follows it), or quietly when the host left.
 */
async function copyByPortThread(
  fd: number,
  copier: PortCopier,
  { id, queue, copies }: ReadTarget,
): Promise<void> {
  if (queue.closed) return copier.unreserve();
  const job = await copier.start(fd, id, "core.fs.data", true);
  copies.add(job);
  try {
    if ((await job.ended) === "error") throw fsFailureErrno("read", job.errno);
  } finally {
    copies.delete(job);
  }
}
