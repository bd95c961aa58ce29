/**
 * The main thread's side of poller-worker.ts: children's output pipes are registered here, and
 * `readable(slot)` resolves when the worker saw the pipe readable (or at its end). One poller and
 * one Worker per process, started on first use.
 */
import { log } from "../log.ts";
import { wakePipe, writeFd } from "../../sys/fd-io.ts";

/** Pipes watched at once: two per exec session (stdout, stderr); beyond it, spawning waits. */
export const MAX_WATCHED = 1024;

export class OutputPoller {
  readonly #table = new SharedArrayBuffer(4 * (1 + MAX_WATCHED * 2));
  readonly #t = new Int32Array(this.#table);
  readonly #wake: number;
  readonly #waiting = new Map<number, () => void>();
  readonly #free: number[] = [];
  #used = 0;
  #slotWaiters: (() => void)[] = [];

  constructor() {
    const [wakeRead, wakeWrite] = wakePipe();
    this.#wake = wakeWrite;
    // Found by its path from the bundle root inside the compiled binary (see port-link.ts).
    const worker = new Worker("./src/agent/exec/poller-worker.ts");
    worker.onmessage = (event: MessageEvent<{ ready?: number[]; error?: string }>) => {
      if (event.data.error) log("warn", `output poller: ${event.data.error}`);
      for (const slot of event.data.ready ?? []) {
        const resolve = this.#waiting.get(slot);
        this.#waiting.delete(slot);
        resolve?.();
      }
    };
    worker.onerror = (e) => log("error", `output poller failed: ${e.message}`);
    // Not a reason to keep the process alive by itself.
    worker.unref();
    worker.postMessage({ table: this.#table, wakeFd: wakeRead });
  }

  /** A slot for `fd`, disarmed; waits while all MAX_WATCHED are in use. */
  async register(fd: number): Promise<number> {
    while (this.#free.length === 0 && this.#used >= MAX_WATCHED)
      await new Promise<void>((r) => this.#slotWaiters.push(r));
    const slot = this.#free.pop() ?? this.#used++;
    Atomics.store(this.#t, 1 + slot * 2, fd);
    Atomics.store(this.#t, 2 + slot * 2, 0);
    Atomics.store(this.#t, 0, this.#used);
    return slot;
  }

  /** Resolves once the slot's pipe is readable, at its end, or released. */
  readable(slot: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiting.set(slot, resolve);
      Atomics.store(this.#t, 2 + slot * 2, 1);
      this.#poke();
    });
  }

  /** Stops watching the slot (before its descriptor is closed) and frees it. */
  release(slot: number): void {
    Atomics.store(this.#t, 2 + slot * 2, 0);
    Atomics.store(this.#t, 1 + slot * 2, -1);
    const resolve = this.#waiting.get(slot);
    this.#waiting.delete(slot);
    resolve?.();
    this.#free.push(slot);
    this.#slotWaiters.shift()?.();
    // The worker may be in poll(2) on the old descriptor: make it rebuild its set.
    this.#poke();
  }

  #poke(): void {
    writeFd(this.#wake, Uint8Array.of(1), "poller wake pipe");
  }
}

let shared: OutputPoller | null = null;
export function outputPoller(): OutputPoller {
  return (shared ??= new OutputPoller());
}
