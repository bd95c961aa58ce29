/**
 * The port thread's copy path, run on a private pipe while agentd sets the guest up.
 *
 * Why: under TCG a guest's first output stream ran slow until the port thread's JavaScript had
 * copied some dozens of frames. The first frames through it cost ~3.5 ms each, later ones ~0.6
 * ms (the interpreter and the runtime's slow paths until the JIT has compiled the loop), and the
 * port thread spent twice the CPU on the first 12 MiB of stdout as on later ones. The Worker is
 * idle while the main thread sets the guest up, so it runs the same code then: frames from a pipe
 * to /dev/null, through the same CopyLoop, table and descriptor calls as a real copy. It stops
 * after its current frame when the main thread is about to hand it the port, so core.ready never
 * waits for it.
 */
import { O_CLOEXEC, O_WRONLY, openFd, wakePipe, writeFd } from "../../sys/fd-io.ts";
import { closeFd } from "../../sys/libc.ts";
import { CopyLoop } from "./copy-loop.ts";
import { bytesCopied, newCopyTable, setCopiesUsed, startCopy } from "./copy-table.ts";
import { CONTROL_WORDS } from "./port-lock.ts";

/**
 * Frames at most. In the guest all 256 took 151-267 ms, inside the time setup takes; the more
 * frames, the faster a first stream's first 16 MiB (one series of boots: after 64 frames 114-123
 * MB/s, after 200 153-161, none 72-86; another: after 256 160-186, none 113-125).
 */
export const WARM_UP_FRAMES = 256;
/** Bytes per frame: the code paths matter, not the bytes (a pipe holds 64 KiB). */
export const WARM_UP_FRAME_SIZE = 16 * 1024;
/** The session id its frames carry (they never reach a host). */
export const WARM_UP_ID = 1;

export interface WarmUpResult {
  frames: number;
  /** Bytes the loop read from the pipe (its copy table's count): frames × size when all went. */
  bytes: number;
}

/**
 * Copies up to `frames` frames of `size` bytes from a pipe through a CopyLoop into `sink` (a path
 * opened for writing: /dev/null in agentd, a file in the tests), until `stop[0]` is 1. Its
 * descriptors are closed before it returns.
 */
export function warmUpCopyPath(
  frames: number,
  size: number,
  stop: Int32Array,
  sink = "/dev/null",
): WarmUpResult {
  const [readEnd, writeEnd] = wakePipe();
  let out = -1;
  try {
    out = openFd(sink, O_WRONLY | O_CLOEXEC);
    const table = new Int32Array(newCopyTable());
    const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    const loop = new CopyLoop(out, table, control, { ended: () => {}, portFree: () => {} });
    startCopy(table, 0, readEnd, WARM_UP_ID, "core.exec.stdout", 0);
    setCopiesUsed(table, 1);
    const chunk = new Uint8Array(size);
    let copied = 0;
    while (copied < frames && Atomics.load(stop, 0) === 0) {
      if (writeFd(writeEnd, chunk, "warm-up pipe") <= 0 || loop.collect() === 0) break;
      loop.copyFrom(0);
      copied++;
    }
    return { frames: copied, bytes: bytesCopied(table, 0) };
  } finally {
    closeFd(writeEnd);
    closeFd(readEnd);
    if (out >= 0) closeFd(out);
  }
}
