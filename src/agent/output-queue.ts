/**
 * The bounded output queue between every producer of frames and the host link. It counts its
 * bytes; producers of bulk data (child output, file reads) await `room()` before producing the
 * next chunk, so when the host stops reading, the children block on their pipes instead of
 * agentd buffering without limit. Control frames (started, exited, fs.response) are always
 * accepted: there is at most a handful per session, so they cannot grow the queue unboundedly.
 */

/** Where queued bytes go. `write` returns how many bytes it took (0..length). */
export interface ByteSink {
  write(bytes: Uint8Array): number;
}

/**
 * High-water mark of the output queue, 8 MiB: two full fs.data chunks plus slack, enough to keep
 * the link busy while a producer refills, small against the 64 MiB RSS budget.
 */
export const OUTPUT_HIGH_WATER = 8 * 1024 * 1024;

export class OutputQueue {
  #frames: Uint8Array[] = [];
  #bytes = 0;
  #waiters: (() => void)[] = [];
  #sink: ByteSink | null;
  #closed = false;

  constructor(
    sink: ByteSink,
    readonly highWater = OUTPUT_HIGH_WATER,
  ) {
    this.#sink = sink;
  }

  /** Bytes waiting to be written. */
  get bytes(): number {
    return this.#bytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a frame and writes as much as the sink takes now. */
  push(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#frames.push(frame);
    this.#bytes += frame.length;
    this.flush();
  }

  /** Writes queued bytes until the sink is full; call again when the sink drains. */
  flush(): void {
    const sink = this.#sink;
    while (sink && this.#frames.length > 0) {
      const head = this.#frames[0]!;
      const n = sink.write(head);
      if (n > 0) this.#bytes -= n;
      if (n >= head.length) this.#frames.shift();
      else {
        if (n > 0) this.#frames[0] = head.subarray(n);
        break;
      }
    }
    if (this.#bytes < this.highWater) this.#wake();
  }

  /** Resolves when the queue is below its high-water mark (or closed); null when it is now. */
  room(): Promise<void> | null {
    if (this.#closed || this.#bytes < this.highWater) return null;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Drops everything (the host went away) and releases every waiting producer. */
  close(): void {
    this.#closed = true;
    this.#sink = null;
    this.#frames = [];
    this.#bytes = 0;
    this.#wake();
  }

  #wake(): void {
    // Wake in arrival order; each producer queues one chunk before awaiting room again, which
    // keeps sessions taking turns instead of one starving the rest.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
