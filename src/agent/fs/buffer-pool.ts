/**
 * Where a pool's buffers come from and go when it no longer keeps them (the frame pool's free
 * buffers, shared by uploads and downloads); `bufferSize` is the size of those ArrayBuffers.
 */
export interface BufferSource {
  readonly bufferSize: number;
  adopt(): ArrayBuffer | null;
  offer(buffer: ArrayBuffer): void;
}

/**
 * Read buffers lent to the output queue: a download reads into one, its frames are written
 * straight from it, and it comes back when the last of them is written. Reusing a few buffers
 * instead of allocating one per chunk keeps the collector and the page-fault handler out of the
 * stream (under TCG both cost more than the copy they replace), and bounds what reads hold.
 */
export class BufferPool {
  #free: Uint8Array[] = [];
  #lent = 0;
  /** Callers of `take` waiting for a buffer, in order; `give` hands its buffer to the first. */
  #waiters: ((buf: Uint8Array) => void)[] = [];

  constructor(
    readonly size: number,
    /** Buffers lent at once; `take` waits beyond it. */
    readonly max: number,
    /** Free buffers kept once none is lent; the rest go to `source`, or to the collector. */
    readonly keep: number,
    readonly source: BufferSource | null = null,
  ) {}

  take(): Promise<Uint8Array> {
    const buf = this.tryTake();
    return buf ? Promise.resolve(buf) : new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * A buffer now, or null when all are lent. For loops that take one per frame: the promise of
   * `take` and its turn through the microtask queue cost more under TCG than the frame's other
   * bookkeeping. Never ahead of a waiting `take`: while one waits, all buffers are lent (a
   * buffer given back goes straight to it).
   */
  tryTake(): Uint8Array | null {
    if (this.#lent >= this.max) return null;
    this.#lent++;
    return this.#free.pop() ?? this.#fresh();
  }

  #fresh(): Uint8Array {
    const src = this.source;
    if (!src || src.bufferSize < this.size) return new Uint8Array(this.size);
    return new Uint8Array(src.adopt() ?? new ArrayBuffer(src.bufferSize), 0, this.size);
  }

  /**
   * While any buffer is lent (a stream is running) every returned buffer is kept for the next
   * read: dropping them would make one new buffer per read for the collector. When the last one
   * comes back the pool shrinks to `keep`.
   */
  give(buf: Uint8Array): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter(buf);
    this.#lent--;
    this.#free.push(buf);
    if (this.#lent === 0)
      while (this.#free.length > this.keep) {
        const dropped = this.#free.pop()!;
        this.source?.offer(dropped.buffer as ArrayBuffer);
      }
  }

  get lent(): number {
    return this.#lent;
  }
}
