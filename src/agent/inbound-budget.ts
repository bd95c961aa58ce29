/**
 * Backpressure for host→guest bulk data (stdin, fs.data). Data a handler cannot hand on at once
 * (a child not reading its stdin, a slow disk) is held, counted here. Above the high-water mark
 * the link stops reading from the host, so the host's writes block instead of agentd's memory
 * growing; below the low-water mark reading resumes. Nothing is dropped.
 */

/** Bytes held for all sessions before the link pauses: 2 MiB (agentd has a 64 MiB budget in all). */
export const INBOUND_HIGH_WATER = 2 * 1024 * 1024;
/** Reading resumes below this: 1 MiB, so pause/resume does not flap per chunk. */
export const INBOUND_LOW_WATER = 1024 * 1024;

export class InboundBudget {
  #held = 0;
  #paused = false;

  constructor(
    readonly pause: () => void,
    readonly resume: () => void,
    readonly high = INBOUND_HIGH_WATER,
    readonly low = INBOUND_LOW_WATER,
  ) {}

  get held(): number {
    return this.#held;
  }

  take(n: number): void {
    this.#held += n;
    if (!this.#paused && this.#held >= this.high) {
      this.#paused = true;
      this.pause();
    }
  }

  release(n: number): void {
    this.#held = Math.max(0, this.#held - n);
    if (this.#paused && this.#held < this.low) {
      this.#paused = false;
      this.resume();
    }
  }
}
