/**
 * The bounded output queue between every producer of frames and the host link, in two lanes.
 *
 * - bulk: pipe output and fs.data. Producers await `room()` before producing the next chunk, so
 *   when the host stops reading, children block on their pipes instead of agentd buffering
 *   without limit. The high-water mark bounds what is held.
 * - urgent: everything else (started, exited, fs.response, terminal output, stderr lines of
 *   agentd). Small and few per session; they go ahead of queued bulk frames, so a keystroke's echo
 *   does not wait behind megabytes of a file download. Only the frame being written, which cannot
 *   be interrupted without corrupting the stream, is finished first.
 */

/** Where queued bytes go. `write` returns how many bytes it took (0..length). */
export interface ByteSink {
  write(bytes: Uint8Array): number;
}

/**
 * High-water mark of the bulk lane, 4 MiB: more than one fs.data chunk, enough to keep
 * the link busy while a producer refills, small against the 64 MiB RSS budget.
 */
export const OUTPUT_HIGH_WATER = 4 * 1024 * 1024;

export class OutputQueue {
  #urgent: Uint8Array[] = [];
  #bulk: Uint8Array[] = [];
  /** The rest of a frame already partly written: it must go out before anything else. */
  #current: Uint8Array | null = null;
  #currentBulk = false;
  #bulkBytes = 0;
  #urgentBytes = 0;
  #waiters: (() => void)[] = [];
  #sink: ByteSink | null;
  #closed = false;

  constructor(
    sink: ByteSink,
    readonly highWater = OUTPUT_HIGH_WATER,
  ) {
    this.#sink = sink;
  }

  /** Bytes waiting to be written, both lanes. */
  get bytes(): number {
    return this.#bulkBytes + this.#urgentBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a frame and writes as much as the sink takes now. */
  push(frame: Uint8Array, bulk = false): void {
    if (this.#closed) return;
    if (bulk) {
      this.#bulk.push(frame);
      this.#bulkBytes += frame.length;
    } else {
      this.#urgent.push(frame);
      this.#urgentBytes += frame.length;
    }
    this.flush();
  }

  #next(): boolean {
    if (this.#current) return true;
    const urgent = this.#urgent.shift();
    if (urgent) {
      this.#current = urgent;
      this.#currentBulk = false;
      return true;
    }
    const bulk = this.#bulk.shift();
    if (bulk) {
      this.#current = bulk;
      this.#currentBulk = true;
      return true;
    }
    return false;
  }

  /** Writes queued bytes until the sink is full; call again when the sink drains. */
  flush(): void {
    const sink = this.#sink;
    while (sink && this.#next()) {
      const head = this.#current!;
      const n = Math.max(0, sink.write(head));
      if (this.#currentBulk) this.#bulkBytes -= n;
      else this.#urgentBytes -= n;
      if (n >= head.length) this.#current = null;
      else {
        this.#current = head.subarray(n);
        break;
      }
    }
    if (this.#bulkBytes < this.highWater) this.#wake();
  }

  /** Resolves when the bulk lane is below its high-water mark (or closed); null when it is now. */
  room(): Promise<void> | null {
    if (this.#closed || this.#bulkBytes < this.highWater) return null;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Drops everything (the host went away) and releases every waiting producer. */
  close(): void {
    this.#closed = true;
    this.#sink = null;
    this.#urgent = [];
    this.#bulk = [];
    this.#current = null;
    this.#bulkBytes = 0;
    this.#urgentBytes = 0;
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
