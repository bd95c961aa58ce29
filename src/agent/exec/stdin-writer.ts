/**
 * Feeds a child's stdin in order and without loss. Chunks the child has not taken yet (or that
 * arrive before the process has started) are held in memory up to STDIN_MEMORY per session and
 * counted against the connection's inbound budget; beyond that they go to a spill file
 * (stdin-spill.ts), so one child that does not read cannot make agentd stop reading the link. An
 * empty chunk closes stdin once everything before it is written.
 */
import type { InboundBudget } from "../inbound-budget.ts";
import { releaseFrameData } from "../frame-pool.ts";
import { StdinSpill } from "./stdin-spill.ts";
import { outputPoller } from "./output-poller.ts";
import { writeFd } from "../../sys/fd-io.ts";
import { closeFd } from "../../sys/libc.ts";
import { directStdin } from "../port/direct-stdin.ts";

/** Stdin a session holds in memory before spilling: 1 MiB. */
export const STDIN_MEMORY = 1024 * 1024;

/** Where stdin goes: a pipe (pipeTarget) or a terminal. */
export interface StdinTarget {
  /** Resolves when the chunk has been handed to the kernel (or buffered by the target). */
  write(chunk: Uint8Array): Promise<void> | void;
  end(): void;
  /**
   * True when a resolved write no longer needs the chunk (it is in the kernel): the chunk's
   * frame buffer can then go back to the frame pool. A terminal may keep a reference to what it
   * buffers, so it says false.
   */
  readonly copies?: boolean;
  /**
   * The writer holds stdin it has not written (true), or has written all it was given (false):
   * while it holds some, the port thread must not write the pipe itself (port/direct-stdin.ts).
   */
  held?(on: boolean): void;
  /** The host closed stdin: no more writes from anyone but this writer's own last ones. */
  stop?(): void;
}

export class StdinWriter {
  #target: StdinTarget | null = null;
  #pending: Uint8Array[] = [];
  #heldBytes = 0;
  #running = false;
  #closeRequested = false;
  #closed = false;

  #spill: StdinSpill | null;
  #overflow: Uint8Array[] = [];

  constructor(
    readonly budget: InboundBudget,
    readonly onError: (message: string) => void,
    spill: StdinSpill | null = null,
  ) {
    this.#spill = spill;
  }

  /** The process has started: start writing what was held. */
  attach(target: StdinTarget): void {
    this.#target = target;
    this.#kick();
  }

  push(data: Uint8Array): void {
    if (this.#closed || this.#closeRequested) {
      // Stdin after its end goes nowhere; a pooled piece goes back (it stayed lent before).
      releaseFrameData(data);
      return;
    }
    if (data.length === 0) {
      this.#closeRequested = true;
      // At once, before the main thread counts the close as handled: the port thread then
      // writes nothing the host sent after it.
      this.#target?.stop?.();
    } else if (!this.#spillChunk(data)) {
      this.#pending.push(data);
      this.#heldBytes += data.length;
      this.budget.take(data.length);
    }
    this.#kick();
  }

  /**
   * Chunks are kept in three places, read in this order: memory (up to STDIN_MEMORY), then the
   * spill file, then `#overflow` (memory again, for chunks the spill could not take). A chunk
   * goes to the first place that is not full and after which nothing newer is already waiting.
   */
  #spillChunk(data: Uint8Array): boolean {
    const spill = this.#spill;
    if (!spill) return false;
    if (this.#overflow.length === 0) {
      if (spill.pending === 0 && this.#heldBytes + data.length <= STDIN_MEMORY) return false;
      if (spill.append(data)) {
        releaseFrameData(data); // written to the spill file synchronously
        return true;
      }
    }
    this.#overflow.push(data);
    this.#heldBytes += data.length;
    this.budget.take(data.length);
    return true;
  }

  #nextChunk(): { chunk: Uint8Array; held: boolean } | null {
    const mem = this.#pending.shift();
    if (mem) return { chunk: mem, held: true };
    const spilled = this.#spill?.take();
    if (spilled) return { chunk: spilled, held: false };
    const over = this.#overflow.shift();
    return over ? { chunk: over, held: true } : null;
  }

  #kick(): void {
    if (!this.#running && this.#target) void this.#run(this.#target);
  }

  async #run(target: StdinTarget): Promise<void> {
    this.#running = true;
    target.held?.(true);
    for (let next = this.#nextChunk(); next && !this.#closed; next = this.#nextChunk()) {
      try {
        await target.write(next.chunk);
      } catch (e) {
        this.onError(`stdin closed by the process: ${e instanceof Error ? e.message : String(e)}`);
        if (next.held) this.#release(next.chunk.length);
        this.discard();
        break;
      }
      if (next.held) this.#release(next.chunk.length);
      if (target.copies) releaseFrameData(next.chunk);
    }
    this.#running = false;
    const drained = this.#pending.length === 0 && !this.#spill?.pending && this.#overflow.length === 0;
    if (this.#closeRequested && !this.#closed && drained) this.#end();
    else if (drained) target.held?.(false);
  }

  #release(n: number): void {
    this.#heldBytes -= n;
    this.budget.release(n);
  }

  #end(): void {
    this.#closed = true;
    // The target's end stops the port thread's writes too (pipeTarget).
    try {
      this.#target?.end();
    } catch {
      // Already closed by the child's exit: nothing left to close.
    }
  }

  /** Drops what is still held (the session is over) and returns its bytes to the budget. */
  discard(): void {
    for (const chunk of [...this.#pending, ...this.#overflow]) releaseFrameData(chunk);
    this.#pending = [];
    this.#overflow = [];
    this.#spill?.close();
    this.budget.release(this.#heldBytes);
    this.#heldBytes = 0;
    if (!this.#closed) this.#end();
  }
}

/**
 * The child's stdin pipe, agentd's non-blocking write end: each chunk is written with write(2)
 * straight from its frame's buffer, and when the pipe is full the output poller's Worker says
 * when it can take more. Bun's FileSink copied what the pipe did not take at once into a buffer
 * of its own (most of every 1 MiB chunk into a 64 KiB pipe), and the allocator kept the memory
 * after the upload (agentd's RSS +13 MiB after a 256 MiB stdin, measured in the guest).
 * A child that closed its stdin makes the write fail with EPIPE (agentd ignores SIGPIPE).
 */
export function pipeTarget(fd: number, subject: string, id?: number): StdinTarget {
  const poller = outputPoller();
  let slot: number | null = null;
  let closed = false;
  const ended = () => new Error("stdin is closed");
  // The port thread writes the host's stdin frames into the pipe itself while this writer holds
  // nothing (port/inbound-split.ts); it starts out holding (what came before the process started).
  const direct = id === undefined ? null : (directStdin()?.register(id, fd, subject) ?? null);
  return {
    copies: true,
    held: (on) => direct?.held(on),
    stop: () => direct?.stop(),
    async write(chunk) {
      let at = 0;
      while (at < chunk.length) {
        if (closed) throw ended();
        const n = writeFd(fd, chunk.subarray(at), subject);
        if (n > 0) {
          at += n;
          continue;
        }
        // Registered on the first full pipe only: most sessions never fill their stdin.
        if (slot === null) {
          const s = await poller.register(fd);
          if (closed) {
            poller.release(s);
            throw ended();
          }
          slot = s;
        }
        await poller.writable(slot);
      }
    },
    end() {
      if (closed) return;
      closed = true;
      direct?.stop();
      // Out of the poll set before the descriptor is closed (its number may be reused).
      if (slot !== null) poller.release(slot);
      closeFd(fd);
    },
  };
}
