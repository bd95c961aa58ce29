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
 *
 * A frame is queued either whole or as a head plus the data bytes that end it (pushData): the
 * data is written from where the producer has it, and `done` tells the producer when its buffer
 * is free again, so a download needs neither a frame-sized allocation nor a copy per chunk.
 */

/** Where queued bytes go. `write` returns how many bytes it took (0..length). */
export interface ByteSink {
  write(bytes: Uint8Array): number;
  /**
   * A sink another thread also writes frames to (the virtio port, port-lock.ts): `begin` before a
   * frame's first byte says whether this side may write it now (if not, the sink calls back
   * through the connection's drained() once it may), `release` after its last byte.
   */
  begin?(): boolean;
  release?(): void;
}

/**
 * High-water mark of the bulk lane, 2 MiB: several bulk frames, enough to keep the link busy
 * while a producer refills, small against the 64 MiB RSS budget.
 */
export const OUTPUT_HIGH_WATER = 2 * 1024 * 1024;

/**
 * Largest bulk frame the main thread makes (fs.data, and pipe output where the port thread does
 * not copy it): 256 KiB. A frame being written cannot be interrupted, so its size is how long an
 * urgent frame (a keystroke's echo) may wait behind bulk. On this thread, with its event loop
 * between frames, 512 KiB frames were tried: stdout +10%, but the bench's tty echo p99 during a
 * download rose from 52 to 98 ms and fs read fell; kept at 256 KiB. (The port thread's own
 * copies go out in 1 MiB frames, measured there: port/copy-loop.ts COPY_FRAME_MAX.)
 */
export const BULK_FRAME_MAX = 256 * 1024;

/** Sends one frame of bulk data; `done`, if given, runs once it is written or dropped. */
export type Emit = (data: Uint8Array, done: (() => void) | null) => void;

/**
 * Sends `data` (not empty) as frames of at most BULK_FRAME_MAX bytes, in order. `done` goes with
 * the last one, which the queue writes (or drops) after the others: then the whole buffer behind
 * `data` is free again.
 */
export function emitInBulkFrames(data: Uint8Array, emit: Emit, done: () => void): void {
  for (let at = 0; at < data.length; at += BULK_FRAME_MAX) {
    const end = Math.min(data.length, at + BULK_FRAME_MAX);
    emit(data.subarray(at, end), end === data.length ? done : null);
  }
}

/**
 * Bulk bytes one flush writes before giving the event loop back: 256 KiB. A write to the virtio
 * port returns only once QEMU has taken the bytes, so under TCG a flush of a whole 4 MiB backlog
 * held the loop for ~70 ms, and a keystroke waited behind it. Between slices the loop handles
 * stdin, terminal output and new requests; urgent frames go out at the start of every slice.
 */
export const FLUSH_SLICE = 256 * 1024;

interface Item {
  /** The frame, or its head when `data` follows. */
  head: Uint8Array;
  data: Uint8Array | null;
  /** Called once the last byte is written, or when the queue is dropped. */
  done: (() => void) | null;
}

const sizeOf = (i: Item) => i.head.length + (i.data?.length ?? 0);

export class OutputQueue {
  #urgent: Item[] = [];
  #bulk: Item[] = [];
  /** The frame being written: it must finish before anything else. */
  #current: Item | null = null;
  /** The sink's begin() said yes for the current item (release it after its last byte). */
  #began = false;
  #currentBulk = false;
  #bulkBytes = 0;
  #urgentBytes = 0;
  #waiters: (() => void)[] = [];
  #sink: ByteSink | null;
  #closed = false;
  #sliceScheduled = false;
  /** Bulk bytes written since the last slice began: at most `slice` per turn of the loop. */
  #sliceUsed = 0;

  constructor(
    sink: ByteSink,
    readonly highWater = OUTPUT_HIGH_WATER,
    readonly slice = FLUSH_SLICE,
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
    this.#enqueue({ head: frame, data: null, done: null }, bulk);
  }

  /**
   * Queues a frame made of `head` and the `data` that ends it (see encodeDataFrameHead). `data`
   * must stay unchanged until `done` is called.
   */
  pushData(head: Uint8Array, data: Uint8Array, bulk: boolean, done: (() => void) | null): void {
    this.#enqueue({ head, data, done }, bulk);
  }

  #enqueue(item: Item, bulk: boolean): void {
    if (this.#closed) return void item.done?.();
    if (bulk) {
      this.#bulk.push(item);
      this.#bulkBytes += sizeOf(item);
    } else {
      this.#urgent.push(item);
      this.#urgentBytes += sizeOf(item);
    }
    // Urgent goes out now; bulk as far as this turn's slice allows.
    this.flush();
  }

  /** Makes the next item current: urgent first; a new bulk item only while the slice lasts. */
  #next(sink: ByteSink): boolean {
    if (this.#current) return true;
    const urgent = this.#urgent.length > 0;
    const lane = urgent ? this.#urgent : this.#sliceUsed < this.slice ? this.#bulk : null;
    const item = lane?.[0];
    if (!item) return false;
    // An empty item (whenWritten's mark) is written by no one and needs no turn at the port.
    const began = sizeOf(item) > 0;
    if (began && sink.begin && !sink.begin()) return false;
    lane!.shift();
    this.#current = item;
    this.#currentBulk = !urgent;
    this.#began = began;
    return true;
  }

  /** Writes the current item's next part; returns the bytes written and whether it finished. */
  #writeCurrent(sink: ByteSink): { n: number; finished: boolean } {
    const item = this.#current!;
    let n = 0;
    if (item.head.length > 0) {
      n = Math.max(0, sink.write(item.head));
      item.head = item.head.subarray(n);
      if (item.head.length > 0) return { n, finished: false };
    }
    if (item.data && item.data.length > 0) {
      const m = Math.max(0, sink.write(item.data));
      item.data = item.data.subarray(m);
      n += m;
      if (item.data.length > 0) return { n, finished: false };
    }
    return { n, finished: true };
  }

  /**
   * Writes urgent frames, then at most one slice of bulk bytes, until the sink is full; the rest
   * of the bulk lane follows in later turns of the event loop. Call again when the sink drains.
   */
  flush(): void {
    const sink = this.#sink;
    while (sink && this.#next(sink)) {
      const { n, finished } = this.#writeCurrent(sink);
      if (this.#currentBulk) {
        this.#bulkBytes -= n;
        this.#sliceUsed += n;
      } else this.#urgentBytes -= n;
      if (!finished) break;
      const done = this.#current!.done;
      this.#current = null;
      if (this.#began) sink.release?.();
      this.#began = false;
      done?.();
    }
    // The next slice starts in a later turn, after the loop has looked at its other work.
    if (sink && this.#sliceUsed > 0 && !this.#sliceScheduled) {
      this.#sliceScheduled = true;
      setImmediate(() => {
        this.#sliceScheduled = false;
        this.#sliceUsed = 0;
        if (!this.#closed) this.flush();
      });
    }
    if (this.#bulkBytes < this.highWater) this.#wake();
  }

  /**
   * Resolves once every urgent frame queued before this call is written (or the queue is closed):
   * output another thread writes (copy-pump.ts) must not overtake a session's `started`.
   */
  whenWritten(): Promise<void> {
    return new Promise((resolve) =>
      this.#enqueue({ head: new Uint8Array(0), data: null, done: resolve }, false),
    );
  }

  /** Resolves when the bulk lane is below its high-water mark (or closed); null when it is now. */
  room(): Promise<void> | null {
    if (this.#closed || this.#bulkBytes < this.highWater) return null;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Drops everything (the host went away), hands every buffer back, releases every producer. */
  close(): void {
    this.#closed = true;
    // A frame cut short, or a turn at the port still awaited, is given up: the port is free.
    this.#sink?.release?.();
    this.#began = false;
    this.#sink = null;
    const dropped = [...(this.#current ? [this.#current] : []), ...this.#urgent, ...this.#bulk];
    this.#urgent = [];
    this.#bulk = [];
    this.#current = null;
    this.#bulkBytes = 0;
    this.#urgentBytes = 0;
    for (const item of dropped) item.done?.();
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
