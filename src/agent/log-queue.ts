/**
 * The log's bounded queue in front of a sink that never blocks (src/sys/stderr.ts): a line goes
 * straight out when the sink takes it; what the sink cannot take now waits here, up to
 * LOG_QUEUE_MAX bytes; past that, whole lines are dropped and counted, and the count is written
 * as a line of its own once the sink takes lines again. A slow console costs log lines, never a
 * stalled agent or unbounded memory.
 */
import type { SinkResult } from "../sys/stderr.ts";

/**
 * What may wait for the console: as much again as a pipe holds, hundreds of lines; a log storm
 * beyond it (a fuzzer's bad frames, a line each) is counted, not kept.
 */
export const LOG_QUEUE_MAX = 64 * 1024;

/** How often a queue that the sink refused tries again. */
export const LOG_RETRY_MS = 10;

const encoder = new TextEncoder();

export interface Sink {
  write(bytes: Uint8Array): SinkResult;
  waitWritable(ms: number): boolean;
}

export class LogQueue {
  readonly #lines: Uint8Array[] = [];
  #bytes = 0;
  #dropped = 0;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly sink: Sink,
    readonly max = LOG_QUEUE_MAX,
    readonly retryMs = LOG_RETRY_MS,
  ) {}

  /** Lines dropped and not yet reported. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes waiting for the sink. */
  get queued(): number {
    return this.#bytes;
  }

  /** Queues one whole line (or drops it and counts it when the queue is full); never waits. */
  push(line: Uint8Array): void {
    if (this.#closed) return;
    if (this.#bytes + line.length > this.max) {
      this.#dropped++;
    } else {
      // The count goes where the lines went missing, before any line that came after them.
      if (this.#dropped > 0) this.#noteDrops();
      this.#lines.push(line);
      this.#bytes += line.length;
    }
    this.#drain();
  }

  /**
   * Writes what waits, waiting up to `ms` in all for room: for the moment before the process
   * exits, when lines still queued would be lost.
   */
  flush(ms: number): void {
    const deadline = performance.now() + ms;
    this.#drain();
    while (this.#bytes > 0 && !this.#closed) {
      const left = deadline - performance.now();
      if (left <= 0 || !this.sink.waitWritable(left)) return;
      this.#drain();
    }
  }

  #drain(): void {
    while (this.#lines.length > 0 || this.#dropped > 0) {
      // Everything before the drop is out: the count goes next, as a line of its own.
      if (this.#lines.length === 0) this.#noteDrops();
      const head = this.#lines[0]!;
      const r = this.sink.write(head);
      if (r === "closed") {
        // The reader is gone (a test's pipe closed): nothing written later can arrive.
        this.#closed = true;
        this.#lines.length = 0;
        this.#bytes = 0;
        this.#dropped = 0;
        return;
      }
      if (r === "again" || r === 0) return this.#retryLater();
      this.#bytes -= r;
      // A line half written keeps its rest at the head: dropping it would splice two lines.
      if (r < head.length) this.#lines[0] = head.subarray(r);
      else this.#lines.shift();
    }
  }

  #noteDrops(): void {
    const note = `agentd: warn: ${this.#dropped} log line(s) dropped: stderr did not take them\n`;
    this.#dropped = 0;
    const bytes = encoder.encode(note);
    this.#lines.push(bytes);
    this.#bytes += bytes.length;
  }

  #retryLater(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#drain();
    }, this.retryMs);
    // A log waiting for the console must not keep a process alive that has nothing else to do.
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
