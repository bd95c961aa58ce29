/**
 * Moves a child's output pipe to the host. agentd owns the pipe's read end (non-blocking): it
 * reads only when the output queue has room (so a host that does not read makes the child block
 * on its pipe), straight into a pooled buffer, and the frame is written to the host from that
 * buffer, which returns to the pool once written. When the pipe is empty the output poller
 * (a Worker blocked in poll(2)) says when it is readable again.
 *
 * Why not Bun's ReadableStream of a "pipe": it hands over ~64 KiB per read, each through the
 * stream machinery and into a new buffer; under TCG that cost more CPU than writing the bytes
 * to the port. Here a read takes up to READ_BUFFER_SIZE (read-buffers.ts) at once from a pipe that
 * holds PIPE_CAPACITY.
 *
 * Remembers when it last moved data, which the session uses to stop waiting for output once the
 * process has exited and only background children hold the pipe; and, from the moment the
 * process exited, how many bytes the pipe held then (`oweWhatIsThere`): those are the process's
 * own output and are always delivered, however long agentd or the host takes.
 */
// One pool of read buffers with fs read (read-buffers.ts).
import { readBuffers as pool } from "../read-buffers.ts";
import { emitInBulkFrames, type Emit, type OutputQueue } from "../output-queue.ts";
import { bytesReadable, readFd } from "../../sys/fd-io.ts";
import { closeFd } from "../../sys/libc.ts";
import { outputPoller } from "./output-poller.ts";

/** The child's pipe: room for a few reads while agentd writes to the port. */
export const PIPE_CAPACITY = 1024 * 1024;

/** Reads smaller than this are copied out and their buffer returned at once (see #run). */
const COPY_BELOW = 64 * 1024;

/** What a session needs of the mover of one output pipe (this pump, or copy-pump.ts). */
export interface OutputPump {
  /** Resolves once the pipe is at its end or the pump was cancelled, and the pipe is closed. */
  readonly done: Promise<void>;
  /** When output last moved (performance.now()). */
  readonly lastActivity: number;
  /** Held back by agentd's side or the host, not by a quiet pipe. */
  readonly heldBack: boolean;
  /** True while bytes owed by oweWhatIsThere are still unread. */
  readonly owes: boolean;
  oweWhatIsThere(): void;
  recheck(): void;
  cancel(): void;
}

export class Pump implements OutputPump {
  lastActivity = performance.now();
  waitingForRoom = false;
  readonly done: Promise<void>;
  #fd: number;
  #cancelled = false;
  /** Ends the wait in progress (see #until). */
  #wake: (() => void) | null = null;
  /** Waiting for the poller's word that the pipe is readable (not for room or a buffer). */
  #waitingForPipe = false;
  /** Waiting for one of the shared read buffers (other sessions hold them all). */
  #waitingForBuffer = false;
  /** Bytes read from the pipe so far, and how far reading must get before the pump may be cut. */
  #read = 0;
  #owedUntil = 0;
  #ended = false;

  /** Takes ownership of `fd`, the read end: it is closed when the pump ends. */
  constructor(
    fd: number,
    readonly queue: OutputQueue,
    readonly emit: Emit,
    readonly subject: string,
  ) {
    this.#fd = fd;
    this.done = this.#run();
  }

  async #run(): Promise<void> {
    const poller = outputPoller();
    const slot = await poller.register(this.#fd);
    try {
      for (;;) {
        const room = this.queue.room();
        if (room) {
          this.waitingForRoom = true;
          await this.#until(room);
          this.waitingForRoom = false;
        }
        if (this.queue.closed || this.#cancelled) return;
        let buf = pool.tryTake();
        if (!buf) {
          this.#waitingForBuffer = true;
          buf = await this.#take();
          this.#waitingForBuffer = false;
        }
        if (!buf) return;
        let n: number;
        try {
          n = readFd(this.#fd, buf, this.subject);
        } catch {
          n = 0; // A broken pipe ends the stream; the session reports the exit regardless.
        }
        if (n > 0) {
          this.#read += n;
          this.lastActivity = performance.now();
          // A small read (a prompt, a line) would hold a whole buffer until it is written: copy
          // it out instead, so many quiet sessions cannot use up the pool.
          if (n < COPY_BELOW) {
            const copy = buf.slice(0, n);
            pool.give(buf);
            this.emit(copy, null);
          } else emitInBulkFrames(buf.subarray(0, n), this.emit, () => pool.give(buf));
          continue;
        }
        pool.give(buf);
        if (n === 0) return;
        this.#waitingForPipe = true;
        await this.#until(poller.readable(slot));
        this.#waitingForPipe = false;
        if (this.#cancelled) return;
      }
    } finally {
      this.#ended = true;
      poller.release(slot);
      closeFd(this.#fd);
    }
  }

  /**
   * Held back by agentd's side (the output queue is full or every read buffer is lent), not by a
   * quiet pipe: time spent so says nothing about whether more output is coming.
   */
  get heldBack(): boolean {
    return this.waitingForRoom || this.#waitingForBuffer;
  }

  /**
   * The process has exited: what its pipe holds now was written by it (or by a background child
   * before this moment) and must reach the host before the pump may be cut.
   */
  oweWhatIsThere(): void {
    if (!this.#ended) this.#owedUntil = this.#read + bytesReadable(this.#fd);
  }

  /** True while bytes owed by oweWhatIsThere are still unread. */
  get owes(): boolean {
    return !this.#ended && this.#read < this.#owedUntil;
  }

  /** A pooled buffer, or null when cancelled first (a buffer that comes later goes back). */
  async #take(): Promise<Uint8Array | null> {
    const taking = pool.take();
    await this.#until(taking);
    if (!this.#cancelled) return taking;
    void taking.then((b) => pool.give(b));
    return null;
  }

  /**
   * Waits for `p` or for cancel(). Not a race against one long-lived "cancelled" promise: that
   * would leave a reaction on it per wait, and a session that trickles output for days waits
   * millions of times. Each `p` here settles once (room, a readable pipe, a buffer).
   */
  #until(p: Promise<unknown>): Promise<void> {
    if (this.#cancelled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      const done = () => {
        if (this.#wake === resolve) this.#wake = null;
        resolve();
      };
      p.then(done, done);
    });
  }

  /**
   * The process has exited: read again now instead of waiting for the poller, whose word comes a
   * thread hop later (its Worker wakes, then posts to this thread). A pipe nothing else holds is
   * at its end by now; one a background child still holds reads empty, and the pump waits again.
   */
  recheck(): void {
    if (!this.#waitingForPipe) return;
    this.#wake?.();
    this.#wake = null;
  }

  /** Stops reading; the pipe is closed and a writer still holding it gets EPIPE. */
  cancel(): void {
    this.#cancelled = true;
    this.#wake?.();
    this.#wake = null;
  }
}
