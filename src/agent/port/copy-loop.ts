/**
 * The port thread's copying of children's output to the host: read a pipe, write one stdout or
 * stderr frame to the port, straight from one buffer, with no hop to the main thread.
 *
 * Why here and not on the main thread: under TCG the main thread was the limit of every output
 * stream. A guest profile (perf, cpu-clock, during 1 GiB of stdout) gave agentd's main thread
 * about as much kernel time per byte as a bare Bun loop doing the same read(2) and write(2), and
 * eleven times its user time: the event loop, promises and queue around each 256 KiB frame, a
 * third of the thread's time. This loop is that bare loop, inside the thread that already waits
 * in poll(2) for the port and the pipes.
 *
 * The port is non-blocking: a frame the port does not take whole stays pending and is finished
 * when poll says the port is writable again; meanwhile no new frame starts (the pipes are left
 * out of the poll, so their children block on full pipes: backpressure). Frames alternate with
 * the main thread's at frame boundaries (port-lock.ts); each pipe gets one frame per round, so
 * sessions take turns.
 */
import { ptr } from "bun:ffi";
import { encodeDataFrameHead } from "../../protocol/frame-head.ts";
import { EAGAIN, PORT_WRITE_MAX, readFdAt, writeChunkedAt } from "../../sys/fd-io.ts";
import { SysError } from "../../sys/libc.ts";
import {
  addCopied,
  collectCopies,
  endCopy,
  END_CANCELLED,
  END_EOF,
  END_ERROR,
  errnoEnd,
  setPortBlocked,
  type CopyEntry,
  type EndCode,
} from "./copy-table.ts";
import { workerBegin, workerIdle, workerRelease } from "./port-lock.ts";

/**
 * Largest frame this loop makes, 1 MiB of data: one read(2) fills it from a pipe (agentd's hold 1
 * MiB, exec/pump.ts PIPE_CAPACITY) or a file, one writev(2) sends it. The thread's JavaScript per
 * frame (a round of the loop, the frame's head, the calls through bun:ffi) is its cost under TCG,
 * not the bytes: with 256 KiB frames, four per turn, the thread spent 0.17-0.23 s in user mode per
 * 256 MiB. One guest per setting, each 3 x (a fresh 256 MiB file read, read again, 256 MiB of
 * stdout) plus a keystroke's echo during a 1 GiB read, 2026-11-30: 256 KiB x 4 per turn (two
 * guests) 263-299 / 293-386 / 194-224 MB/s, echo p50 10.7 and p99 28.5-32.8 ms; 1 MiB x 1 (two
 * guests) 337-411 / 345-439 / 247-295, echo p50 12.6-15.0, p99 29.2-30.9; 1 MiB x 4: the same
 * rates, echo p99 36.5; 2 MiB x 1: no faster, echo p99 40.1; 512 KiB x 2: 258-293 / 233-365 /
 * 210-227. A keystroke's echo waits for at most the frame half out (~3 ms at these rates): the
 * main thread's frames go next at every frame boundary. The main thread's own bulk frames stay
 * at BULK_FRAME_MAX (output-queue.ts).
 */
export const COPY_FRAME_MAX = 1024 * 1024;

/** Room before the data for the frame's head (at most 4 + 4 + 1 + envelope + CBOR heads). */
const HEAD_ROOM = 64;

export interface CopyReports {
  /** Copies that ended: [slot, code, slot, code, ...]. */
  ended(list: number[]): void;
  /** The main thread waits for the port, which is free now. */
  portFree(): void;
}

export class CopyLoop {
  readonly entries: CopyEntry[] = [];
  count = 0;
  readonly #buf: Uint8Array;
  readonly #at: number;
  /** The frame the port has not taken whole: its slot, next byte's address, bytes left. */
  #pendingSlot = -1;
  #pendingAt = 0;
  #pendingLeft = 0;
  #ended: number[] = [];

  /** `frameMax`: the data of a frame at most (the warm-up's small frames need no 1 MiB buffer). */
  constructor(
    readonly port: number,
    readonly table: Int32Array,
    readonly control: Int32Array,
    readonly reports: CopyReports,
    readonly frameMax = COPY_FRAME_MAX,
  ) {
    this.#buf = new Uint8Array(HEAD_ROOM + frameMax);
    this.#at = ptr(this.#buf);
  }

  get pending(): boolean {
    return this.#pendingSlot >= 0;
  }

  /** Reads the table for this round; ends cancelled copies (not one whose frame is half out). */
  collect(): number {
    this.count = collectCopies(this.table, this.entries);
    if (this.count === 0) workerIdle(this.control);
    for (let i = 0; i < this.count; i++) {
      const e = this.entries[i]!;
      if (e.cancel && e.slot !== this.#pendingSlot) this.#end(e.slot, END_CANCELLED);
    }
    this.#report();
    return this.count;
  }

  /** Copies a frame from entry `i`'s pipe, which poll said is readable (or at its end). */
  copyFrom(i: number): void {
    const e = this.entries[i]!;
    try {
      this.#copyOne(e);
    } catch (err) {
      // Not expected (each call's failures are handled where they happen), but a port left
      // taken would silence the agent: this copy ends, its frame is dropped, the port is freed.
      this.dropPending();
      this.#release();
      this.#end(e.slot, END_ERROR);
      e.cancel = true;
      this.#report();
      throw err;
    }
  }

  /** One frame (none when the port is taken or the pipe has nothing). */
  #copyOne(e: CopyEntry): void {
    if (this.pending || e.cancel || !workerBegin(this.control)) return;
    let n: number;
    let errno = 0;
    try {
      // A constant subject: a string per frame would be garbage in this loop, and a failure
      // reaches the main thread as its errno only.
      n = readFdAt(e.fd, this.#at + HEAD_ROOM, this.frameMax, "copied descriptor");
    } catch (err) {
      n = -1;
      errno = err instanceof SysError ? err.errno : 0;
    }
    if (n <= 0) {
      this.#release();
      if (n === 0) this.#end(e.slot, END_EOF);
      else if (n !== -EAGAIN) this.#end(e.slot, errnoEnd(errno));
      if (n !== -EAGAIN) e.cancel = true; // ended: no more reads this round
      this.#report();
      return;
    }
    addCopied(this.table, e.slot, n);
    const head = encodeDataFrameHead(e.id, e.type, n);
    this.#buf.set(head, HEAD_ROOM - head.length);
    this.#pendingSlot = e.slot;
    this.#pendingAt = this.#at + HEAD_ROOM - head.length;
    this.#pendingLeft = head.length + n;
    this.writePending();
  }

  /**
   * Writes what the port takes of the pending frame; lets go of the port once it is out. One
   * writev(2) of 32 KiB segments per frame instead of a write(2) per 32 KiB (the port takes 32 KiB
   * a call): one guest, 256 MiB of stdout in 256 KiB frames five times each, alternating: 190-193
   * -> 206-208 MB/s.
   */
  writePending(): void {
    while (this.#pendingLeft > 0) {
      let w: number;
      try {
        w = writeChunkedAt(this.port, this.#pendingAt, this.#pendingLeft, PORT_WRITE_MAX, "agent port");
      } catch {
        // The host went away mid-frame: the frame is lost with the connection (POLLHUP follows).
        return this.dropPending();
      }
      if (w <= 0) {
        setPortBlocked(this.table, true);
        return;
      }
      this.#pendingAt += w;
      this.#pendingLeft -= w;
    }
    this.#pendingSlot = -1;
    setPortBlocked(this.table, false);
    this.#release();
  }

  /** The host went away: the frame half out goes with it, and the port is free for the next. */
  dropPending(): void {
    if (this.#pendingSlot < 0) return;
    this.#pendingSlot = -1;
    this.#pendingLeft = 0;
    setPortBlocked(this.table, false);
    this.#release();
  }

  #release(): void {
    if (workerRelease(this.control)) this.reports.portFree();
  }

  #end(slot: number, code: EndCode): void {
    endCopy(this.table, slot);
    this.#ended.push(slot, code);
  }

  #report(): void {
    if (this.#ended.length === 0) return;
    this.reports.ended(this.#ended);
    this.#ended = [];
  }
}
