/**
 * Moves a child's output pipe to the host: reads a chunk only when the output queue has room
 * (so a host that does not read makes the child block on its pipe), and cuts chunks to at most
 * 64 KiB per frame. Remembers when it last moved data, which the session uses to stop waiting
 * for output once the process has exited and only background children hold the pipe.
 */
import { BULK_FRAME_MAX, type OutputQueue } from "../output-queue.ts";

/**
 * Largest stdout/stderr chunk per frame: the queue's bulk frame size. The pipe's reader hands
 * over what accumulated while agentd was busy, often more than the pipe's 64 KiB; fewer, larger
 * frames cost less per byte.
 */
export const OUTPUT_CHUNK = BULK_FRAME_MAX;

export class Pump {
  lastActivity = performance.now();
  waitingForRoom = false;
  readonly done: Promise<void>;
  #reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> };

  constructor(
    stream: ReadableStream<Uint8Array>,
    readonly queue: OutputQueue,
    readonly emit: (chunk: Uint8Array) => void,
  ) {
    this.#reader = stream.getReader();
    this.done = this.#run();
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        const room = this.queue.room();
        if (room) {
          this.waitingForRoom = true;
          await room;
          this.waitingForRoom = false;
        }
        if (this.queue.closed) return;
        const { done, value } = await this.#reader.read();
        if (done || !value) return;
        this.lastActivity = performance.now();
        for (let at = 0; at < value.length; at += OUTPUT_CHUNK) {
          this.emit(value.subarray(at, Math.min(value.length, at + OUTPUT_CHUNK)));
        }
      }
    } catch {
      // A cancelled or broken pipe ends the stream; the session reports the exit regardless.
    }
  }

  /** Stops reading; the pipe is closed and a writer still holding it gets EPIPE. */
  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}
