/**
 * The main thread's side of pipe readiness: pipes are registered here, and `readable(slot)` /
 * `writable(slot)` resolve when the polling Worker (port/reader-worker.ts) saw the pipe readable
 * (an output pipe) or writable (a stdin pipe), at its end, or when the slot is released. In the
 * guest the port link installs the poller of its own Worker; without a port (host mode) the
 * first use starts the same Worker with no port.
 */
import { log } from "../log.ts";
import { wakePipe, writeFd } from "../../sys/fd-io.ts";
import {
  arm,
  MAX_WATCHED,
  newOutputTable,
  setSlot,
  setUsed,
  WANT_READ,
  WANT_WRITE,
  type Want,
} from "./output-table.ts";

export class OutputPoller {
  readonly #t: Int32Array;
  readonly #waiting = new Map<number, () => void>();
  /**
   * Which slots hold a pipe, and how many slots the Worker scans every round (up to the highest in
   * use): the lowest free slot is taken and the count shrinks when the top ones are released, so
   * a burst of sessions once does not make every later round scan its high-water mark.
   */
  readonly #inUse = new Uint8Array(MAX_WATCHED);
  #count = 0;
  #used = 0;
  #slotWaiters: (() => void)[] = [];

  /** `poke` wakes the Worker so it polls the current table (`table`, given when made earlier). */
  constructor(
    readonly poke: () => void,
    readonly table: SharedArrayBuffer = newOutputTable(),
  ) {
    this.#t = new Int32Array(table);
  }

  /** A slot for `fd`, disarmed; waits while all MAX_WATCHED are in use. */
  async register(fd: number): Promise<number> {
    while (this.#count >= MAX_WATCHED) await new Promise<void>((r) => this.#slotWaiters.push(r));
    let slot = 0;
    while (this.#inUse[slot]) slot++;
    this.#inUse[slot] = 1;
    this.#count++;
    setSlot(this.#t, slot, fd, 0);
    if (slot >= this.#used) setUsed(this.#t, (this.#used = slot + 1));
    return slot;
  }

  /** Resolves once the slot's pipe is readable, at its end, or released. */
  readable(slot: number): Promise<void> {
    return this.#wait(slot, WANT_READ);
  }

  /** Resolves once the slot's pipe can take more, has no reader left, or is released. */
  writable(slot: number): Promise<void> {
    return this.#wait(slot, WANT_WRITE);
  }

  #wait(slot: number, want: Want): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiting.set(slot, resolve);
      arm(this.#t, slot, want);
      this.poke();
    });
  }

  /** Stops watching the slot (before its descriptor is closed) and frees it. */
  release(slot: number): void {
    setSlot(this.#t, slot, -1, 0);
    this.#wakeWaiter(slot);
    if (this.#inUse[slot]) {
      this.#inUse[slot] = 0;
      this.#count--;
      while (this.#used > 0 && !this.#inUse[this.#used - 1]) this.#used--;
      setUsed(this.#t, this.#used);
    }
    this.#slotWaiters.shift()?.();
    // The Worker may be in poll(2) on the old descriptor: make it rebuild its set.
    this.poke();
  }

  /** The Worker's report: these slots are ready (and disarmed). */
  onReady(slots: readonly number[]): void {
    for (const slot of slots) this.#wakeWaiter(slot);
  }

  #wakeWaiter(slot: number): void {
    const resolve = this.#waiting.get(slot);
    this.#waiting.delete(slot);
    resolve?.();
  }
}

let shared: OutputPoller | null = null;

/** The port link's poller, served by its Worker. */
export function installOutputPoller(poller: OutputPoller): void {
  shared = poller;
}

export function outputPoller(): OutputPoller {
  return (shared ??= standalonePoller());
}

/** Host mode: the polling Worker with no port, for the output pipes alone. */
function standalonePoller(): OutputPoller {
  const [wakeRead, wakeWrite] = wakePipe();
  const one = new Uint8Array([1]);
  const poller = new OutputPoller(() => writeFd(wakeWrite, one, "poller wake pipe"));
  // Found by its path from the bundle root inside the compiled binary (see port-link.ts).
  const worker = new Worker("./src/agent/port/reader-worker.ts");
  worker.onmessage = (event: MessageEvent<{ kind: string; ready?: number[]; message?: string }>) => {
    if (event.data.kind === "outputs") poller.onReady(event.data.ready ?? []);
    else if (event.data.kind === "error") log("warn", `output poller: ${event.data.message}`);
  };
  worker.onerror = (e) => log("error", `output poller failed: ${e.message}`);
  worker.unref();
  const none = new SharedArrayBuffer(8);
  worker.postMessage({
    fd: -1,
    wakeFd: wakeRead,
    control: none,
    inbox: none,
    slots: none,
    outputs: poller.table,
  });
  return poller;
}
