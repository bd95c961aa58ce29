/**
 * The port thread's copy path, run on a private pipe while agentd sets the guest up.
 *
 * Why: under TCG a guest's first output stream ran slow until the port thread's JavaScript had
 * copied some dozens of frames. The first frames through it cost ~3.5 ms each, later ones ~0.6
 * ms (the interpreter and the runtime's slow paths until the JIT has compiled the loop), and the
 * port thread spent twice the CPU on the first 12 MiB of stdout as on later ones. The Worker is
 * idle while the main thread sets the guest up, so it runs the same code then: frames from a pipe
 * to another pipe, through the same CopyLoop, table and descriptor calls as a real copy. It stops
 * after its current frame when the main thread is about to hand it the port, so core.ready never
 * waits for it.
 */
import { readFd, wakePipe, writeFd } from "../../sys/fd-io.ts";
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

/** Largest frame data the sink pipe takes whole in one write (a pipe holds 64 KiB). */
export const WARM_UP_FRAME_MAX = 32 * 1024;

export interface WarmUpResult {
  frames: number;
  /** Bytes the loop read from the source pipe (its copy table's count): frames × size. */
  bytes: number;
  /** Bytes the loop wrote as frames (heads included). */
  sent: number;
}

/**
 * Copies up to `frames` frames of `size` bytes (at most WARM_UP_FRAME_MAX) from one pipe through a
 * CopyLoop into another, which it empties after each frame (handing the bytes to `onSent`, for the
 * tests), until `stop[0]` is 1. Pipes only, no path: agentd may start before /dev is mounted.
 * Its descriptors are closed before it returns.
 */
export function warmUpCopyPath(
  frames: number,
  size: number,
  stop: Int32Array,
  onSent: (bytes: Uint8Array) => void = () => {},
): WarmUpResult {
  if (size > WARM_UP_FRAME_MAX)
    throw new RangeError(`warm-up frames of ${size} bytes: at most ${WARM_UP_FRAME_MAX}`);
  const [source, sourceIn] = wakePipe();
  const [sinkOut, sink] = wakePipe();
  try {
    const table = new Int32Array(newCopyTable());
    const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    const reports = { ended: () => {}, portFree: () => {} };
    const loop = new CopyLoop(sink, table, control, reports, WARM_UP_FRAME_MAX);
    startCopy(table, 0, source, WARM_UP_ID, "core.exec.stdout", 0);
    setCopiesUsed(table, 1);
    const chunk = new Uint8Array(size);
    const out = new Uint8Array(WARM_UP_FRAME_MAX + 1024);
    let copied = 0;
    let sent = 0;
    while (copied < frames && Atomics.load(stop, 0) === 0) {
      if (writeFd(sourceIn, chunk, "warm-up pipe") <= 0 || loop.collect() === 0) break;
      loop.copyFrom(0);
      for (let n = readFd(sinkOut, out, "warm-up pipe"); n > 0; n = readFd(sinkOut, out, "warm-up pipe")) {
        sent += n;
        onSent(out.subarray(0, n));
      }
      copied++;
    }
    return { frames: copied, bytes: bytesCopied(table, 0), sent };
  } finally {
    for (const fd of [source, sourceIn, sinkOut, sink]) closeFd(fd);
  }
}
