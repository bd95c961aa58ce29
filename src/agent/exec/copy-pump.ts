/**
 * A child's output pipe copied to the host by the port thread (port/copy-loop.ts) instead of the
 * main thread (pump.ts): the same contract to the session (done, owed bytes, activity, cancel),
 * with the reading and writing done elsewhere. The session's `started` frame must reach the host
 * before any output, so the copy starts only once the output queue has written what it held.
 */
import type { OutputQueue } from "../output-queue.ts";
import type { CopyJob, PortCopier } from "../port/copier.ts";
import type { CopyType } from "../port/copy-table.ts";
import { bytesReadable } from "../../sys/fd-io.ts";
import { closeFd } from "../../sys/libc.ts";
import type { OutputPump } from "./pump.ts";

export class CopyPump implements OutputPump {
  readonly done: Promise<void>;
  #fd: number;
  #job: CopyJob | null = null;
  #cancelled = false;
  #ended = false;
  /** The copied count last seen, and when it last moved. */
  #seen = 0;
  #last = performance.now();
  /** Where the copied count must get before the pump may be cut (see oweWhatIsThere). */
  #owedUntil: number | null = null;

  /**
   * Takes ownership of `fd`, the read end: it is closed when the copy ends. The caller has
   * reserved the copier's slot (PortCopier.reserve).
   */
  constructor(
    fd: number,
    readonly queue: OutputQueue,
    readonly copier: PortCopier,
    readonly id: number,
    readonly type: CopyType,
  ) {
    this.#fd = fd;
    this.done = this.#run();
  }

  async #run(): Promise<void> {
    let reserved = true;
    try {
      await this.queue.whenWritten();
      if (this.#cancelled || this.queue.closed) return;
      reserved = false;
      this.#job = await this.copier.start(this.#fd, this.id, this.type, true);
      if (this.#cancelled) this.#job.cancel();
      await this.#job.ended;
    } finally {
      if (reserved) this.copier.unreserve();
      this.#ended = true;
      closeFd(this.#fd);
    }
  }

  get lastActivity(): number {
    const now = this.#copied();
    if (now !== this.#seen) {
      this.#seen = now;
      this.#last = performance.now();
    }
    return this.#last;
  }

  /** Held back by the host reading slowly (the port thread's frame is not out), not a quiet pipe. */
  get heldBack(): boolean {
    return !this.#ended && this.copier.portBlocked;
  }

  /**
   * The process has exited: what its pipe holds now must reach the host before the pump may be
   * cut. The count and the pipe are read while the port thread may be reading: taken again until
   * the count did not move around the pipe's, so the target is exact.
   */
  oweWhatIsThere(): void {
    if (this.#ended) return;
    let before = 0;
    let there = 0;
    // Bounded: should the count never hold still, owing too little only leaves the rest to the
    // idle rule, where owing too much could keep the session waiting for bytes that never come.
    for (let i = 0; i < 100; i++) {
      before = this.#copied();
      there = bytesReadable(this.#fd);
      if (this.#copied() === before) break;
    }
    this.#owedUntil = (before + there) | 0;
  }

  get owes(): boolean {
    if (this.#ended || this.#cancelled || this.#owedUntil === null) return false;
    return ((this.#owedUntil - this.#copied()) | 0) > 0;
  }

  /** The port thread notices the pipe's end itself. */
  recheck(): void {}

  /** Stops copying at the next frame boundary; the pipe is closed once the port thread let go. */
  cancel(): void {
    this.#cancelled = true;
    this.#job?.cancel();
  }

  #copied(): number {
    return this.#job && !this.#ended ? this.#job.copied : this.#seen;
  }
}
