/**
 * Read buffers lent to the output queue: a download reads into one, its frames are written
 * straight from it, and it comes back when the last of them is written. Reusing a few buffers
 * instead of allocating one per chunk keeps the collector and the page-fault handler out of the
 * stream (under TCG both cost more than the copy they replace), and bounds what reads hold.
 */
export class BufferPool {
  #free: Uint8Array[] = [];
  #lent = 0;
  #waiters: (() => void)[] = [];

  constructor(
    readonly size: number,
    /** Buffers lent at once; `take` waits beyond it. */
    readonly max: number,
    /** Free buffers kept once none is lent; the rest go to the collector. */
    readonly keep: number,
  ) {}

  async take(): Promise<Uint8Array> {
    while (this.#lent >= this.max) await new Promise<void>((r) => this.#waiters.push(r));
    this.#lent++;
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /**
   * While any buffer is lent (a stream is running) every returned buffer is kept for the next
   * read: dropping them would make one new buffer per read for the collector. When the last one
   * comes back the pool shrinks to `keep`.
   */
  give(buf: Uint8Array): void {
    this.#lent--;
    this.#free.push(buf);
    if (this.#lent === 0 && this.#free.length > this.keep) this.#free.length = this.keep;
    this.#waiters.shift()?.();
  }

  get lent(): number {
    return this.#lent;
  }
}
