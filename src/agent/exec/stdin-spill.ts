/**
 * Where stdin goes that a child has not read yet, beyond what a session keeps in memory: an
 * unlinked file in the spill directory (nothing is left behind if agentd dies). This is what
 * lets agentd keep reading the link while one child ignores its stdin, so other sessions and a
 * signal to that child are not held up, and no byte is lost. Its bound is the free space of the
 * spill directory's filesystem; when a write there fails, the caller falls back to holding the
 * chunk in memory against the connection's inbound budget (which pauses the link).
 */
import { nodeFs, nodePath } from "../../lazy-node.ts";
import { allocFrame } from "../frame-pool.ts";

/** Largest chunk read back at a time. */
const READ_BACK = 1024 * 1024;

export class StdinSpill {
  #fd: number | null = null;
  #writeAt = 0;
  #readAt = 0;

  constructor(
    readonly dir: string,
    readonly name: string,
  ) {}

  /** Bytes waiting in the file. */
  get pending(): number {
    return this.#writeAt - this.#readAt;
  }

  /** Appends a chunk; false when the file cannot take it (the caller keeps it in memory). */
  append(data: Uint8Array): boolean {
    try {
      if (this.#fd === null) {
        nodeFs().mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        const path = nodePath().join(this.dir, this.name);
        this.#fd = nodeFs().openSync(path, "w+", 0o600);
        nodeFs().unlinkSync(path);
      }
      let at = 0;
      while (at < data.length)
        at += nodeFs().writeSync(this.#fd, data, at, data.length - at, this.#writeAt + at);
      this.#writeAt += data.length;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The next chunk, oldest first; null when empty. Rewinds the file once it is drained. The chunk
   * is read into a frame-pool buffer, which the writer gives back once the pipe has it, like a
   * chunk that came in a frame: a new 1 MiB buffer per chunk read back was garbage the allocator
   * kept after the collector freed it (agentd's RSS +12 MiB over a 256 MiB stdin in the guest).
   */
  take(): Uint8Array | null {
    if (this.#fd === null || this.pending === 0) return null;
    const out = allocFrame(Math.min(READ_BACK, this.pending));
    const n = nodeFs().readSync(this.#fd, out, 0, out.length, this.#readAt);
    this.#readAt += n;
    if (this.pending === 0) {
      this.#readAt = this.#writeAt = 0;
      nodeFs().ftruncateSync(this.#fd, 0);
    }
    return out.subarray(0, n);
  }

  close(): void {
    if (this.#fd !== null) nodeFs().closeSync(this.#fd);
    this.#fd = null;
    this.#readAt = this.#writeAt = 0;
  }
}
