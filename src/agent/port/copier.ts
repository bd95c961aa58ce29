/**
 * The main thread's side of the pipes (and in-memory files, fs/read.ts) the port thread copies to
 * the host itself (port/copy-loop.ts): it hands a descriptor over, learns how far the copy got,
 * cancels it, and hears when it ended. Only the virtio port has one; host mode's socket is
 * written by the main thread.
 */
import {
  cancelCopy,
  freeCopy,
  bytesCopied,
  MAX_COPIES,
  newCopyTable,
  portBlocked,
  setCopiesUsed,
  startCopy,
  type CopyType,
  END_CANCELLED,
  END_EOF,
  endErrno,
} from "./copy-table.ts";

export type CopyEnd = "eof" | "error" | "cancelled";

export class PortCopier {
  readonly #t: Int32Array;
  readonly #ends = new Map<number, (end: CopyEnd, errno: number) => void>();
  /**
   * Slots up to the highest in use (the port thread scans this many every round): the lowest free
   * slot is taken, and the count shrinks when the top ones end, so a burst of sessions once does
   * not make every later round scan its high-water mark.
   */
  #used = 0;
  #slotWaiters: (() => void)[] = [];
  /** Slots promised by reserve() and not yet taken by start() or given back. */
  #reserved = 0;
  /** The connection new copies belong to: the port thread's count, told with each "up". */
  epoch = 0;

  /** `poke` wakes the port thread so it reads the table again (`table`, given when made earlier). */
  constructor(
    readonly poke: () => void,
    readonly table: SharedArrayBuffer = newCopyTable(),
  ) {
    this.#t = new Int32Array(table);
  }

  /**
   * Promises a slot to a copy that will start later, or says false when all are taken or
   * promised: the caller then moves its bytes on the main thread instead of waiting (a session
   * past the 512th must not wait for another to end before its output moves).
   */
  reserve(): boolean {
    if (this.#ends.size + this.#reserved >= MAX_COPIES) return false;
    this.#reserved++;
    return true;
  }

  /** Gives back a slot reserve() promised and start() will not take. */
  unreserve(): void {
    if (this.#reserved === 0) return;
    this.#reserved--;
    this.#slotWaiters.shift()?.();
  }

  /**
   * Starts copying `fd` (a pipe's read end, or a file that never waits on a device) as `type`
   * frames of session `id`, in the slot reserve() promised (`reserved`), else waiting for one.
   */
  async start(fd: number, id: number, type: CopyType, reserved = false): Promise<CopyJob> {
    if (reserved && this.#reserved > 0) this.#reserved--;
    else
      while (this.#ends.size + this.#reserved >= MAX_COPIES)
        await new Promise<void>((r) => this.#slotWaiters.push(r));
    let slot = 0;
    while (this.#ends.has(slot)) slot++;
    if (slot >= this.#used) setCopiesUsed(this.#t, (this.#used = slot + 1));
    let settle!: (end: CopyEnd) => void;
    const ended = new Promise<CopyEnd>((r) => (settle = r));
    const job = new CopyJob(this, slot, ended);
    const resolve = (end: CopyEnd, errno: number) => {
      job.errno = errno;
      settle(end);
    };
    this.#ends.set(slot, resolve);
    job.token = resolve;
    startCopy(this.#t, slot, fd, id, type, this.epoch);
    this.poke();
    return job;
  }

  /** The port thread's report: [slot, code, ...] ended; their slots are free again. */
  onEnded(list: readonly number[]): void {
    for (let i = 0; i + 1 < list.length; i += 2) {
      const slot = list[i]!;
      const code = list[i + 1]!;
      const resolve = this.#ends.get(slot);
      if (!resolve) continue;
      this.#ends.delete(slot);
      freeCopy(this.#t, slot);
      while (this.#used > 0 && !this.#ends.has(this.#used - 1)) this.#used--;
      setCopiesUsed(this.#t, this.#used);
      this.#slotWaiters.shift()?.();
      resolve(code === END_EOF ? "eof" : code === END_CANCELLED ? "cancelled" : "error", endErrno(code));
    }
  }

  copied(slot: number): number {
    return bytesCopied(this.#t, slot);
  }

  /** Cancels the copy `token` (its resolver) names, if it still runs in `slot` (not a later one). */
  cancel(slot: number, token: unknown): void {
    if (this.#ends.get(slot) !== token) return;
    cancelCopy(this.#t, slot);
    this.poke();
  }

  /** The port thread holds a frame the port has not taken whole (the host reads slowly). */
  get portBlocked(): boolean {
    return portBlocked(this.#t);
  }
}

/**
 * One pipe (or file) being copied. `ended` resolves once its last frame is out (or it was
 * cancelled).
 */
export class CopyJob {
  /** For an "error" end: the read's errno, when the port thread knew it (else 0). */
  errno = 0;
  /** Names this copy to the copier (a later copy in the same slot has another). */
  token: unknown = null;

  constructor(
    readonly copier: PortCopier,
    readonly slot: number,
    readonly ended: Promise<CopyEnd>,
  ) {}

  /** Bytes read from the pipe so far, modulo 2^32. */
  get copied(): number {
    return this.copier.copied(this.slot);
  }

  cancel(): void {
    this.copier.cancel(this.slot, this.token);
  }
}
