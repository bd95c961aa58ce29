/**
 * Feeds a child's stdin in order and without loss: chunks the child has not taken yet (or that
 * arrive before the process has started) are held and counted against the connection's inbound
 * budget, which pauses reading from the host when too much is held. An empty chunk closes stdin
 * once everything before it is written.
 */
import type { InboundBudget } from "../inbound-budget.ts";

/** Where stdin goes: a pipe (FileSink) or a terminal. */
export interface StdinTarget {
  /** Resolves when the chunk has been handed to the kernel (or buffered by the target). */
  write(chunk: Uint8Array): Promise<void> | void;
  end(): void;
}

export class StdinWriter {
  #target: StdinTarget | null = null;
  #pending: Uint8Array[] = [];
  #heldBytes = 0;
  #running = false;
  #closeRequested = false;
  #closed = false;

  constructor(
    readonly budget: InboundBudget,
    readonly onError: (message: string) => void,
  ) {}

  /** The process has started: start writing what was held. */
  attach(target: StdinTarget): void {
    this.#target = target;
    this.#kick();
  }

  push(data: Uint8Array): void {
    if (this.#closed || this.#closeRequested) return;
    if (data.length === 0) this.#closeRequested = true;
    else {
      this.#pending.push(data);
      this.#heldBytes += data.length;
      this.budget.take(data.length);
    }
    this.#kick();
  }

  #kick(): void {
    if (!this.#running && this.#target) void this.#run(this.#target);
  }

  async #run(target: StdinTarget): Promise<void> {
    this.#running = true;
    while (this.#pending.length > 0 && !this.#closed) {
      const chunk = this.#pending.shift()!;
      try {
        await target.write(chunk);
      } catch (e) {
        this.onError(`stdin closed by the process: ${e instanceof Error ? e.message : String(e)}`);
        this.#release(chunk.length);
        this.discard();
        break;
      }
      this.#release(chunk.length);
    }
    this.#running = false;
    if (this.#closeRequested && !this.#closed && this.#pending.length === 0) this.#end();
  }

  #release(n: number): void {
    this.#heldBytes -= n;
    this.budget.release(n);
  }

  #end(): void {
    this.#closed = true;
    try {
      this.#target?.end();
    } catch {
      // Already closed by the child's exit: nothing left to close.
    }
  }

  /** Drops what is still held (the session is over) and returns its bytes to the budget. */
  discard(): void {
    this.#pending = [];
    this.budget.release(this.#heldBytes);
    this.#heldBytes = 0;
    if (!this.#closed) this.#end();
  }
}

/** A pipe's FileSink as a target: each chunk is flushed before the next is taken. */
export function pipeTarget(sink: import("bun").FileSink): StdinTarget {
  return {
    async write(chunk) {
      const written = sink.write(chunk);
      if (written instanceof Promise) await written;
      const flushed = sink.flush();
      if (flushed instanceof Promise) await flushed;
    },
    end() {
      const r = sink.end();
      if (r instanceof Promise) r.catch(() => {});
    },
  };
}
