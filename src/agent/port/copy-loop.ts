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
 * the main thread's at frame boundaries (port-lock.ts); each pipe gets at most FRAMES_PER_TURN
 * frames per round, so sessions take turns.
 */
import { ptr } from "bun:ffi";
import { encodeDataFrameHead } from "../../protocol/frame.ts";
import { EAGAIN, PORT_WRITE_MAX, readFdAt, writeChunkedAt } from "../../sys/fd-io.ts";
import { SysError } from "../../sys/libc.ts";
import { BULK_FRAME_MAX } from "../output-queue.ts";
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
 * Frames one pipe may send in a row while it has whole frames ready: a poll(2) and a round of the
 * loop per frame cost the thread more than the frame's own JavaScript under TCG. One guest, 256
 * MiB of stdout six times each, alternating: 1 frame per turn 148 MB/s, 4 frames 161-168, 16
 * frames 145. The main thread's frames still go next at every frame boundary.
 */
const FRAMES_PER_TURN = 4;

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
  readonly #buf = new Uint8Array(HEAD_ROOM + BULK_FRAME_MAX);
  readonly #at = ptr(this.#buf);
  /** The frame the port has not taken whole: its slot, next byte's address, bytes left. */
  #pendingSlot = -1;
  #pendingAt = 0;
  #pendingLeft = 0;
  #ended: number[] = [];

  constructor(
    readonly port: number,
    readonly table: Int32Array,
    readonly control: Int32Array,
    readonly reports: CopyReports,
  ) {}

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

  /**
   * Copies frames from entry `i`'s pipe, which poll said is readable (or at its end): up to
   * FRAMES_PER_TURN while the pipe fills whole frames and the port takes them, then the next pipe.
   */
  copyFrom(i: number): void {
    const e = this.entries[i]!;
    try {
      for (let k = 0; k < FRAMES_PER_TURN; k++) if (this.#copyOne(e) < BULK_FRAME_MAX) return;
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

  /** One frame; returns its data bytes (0 when none was sent). */
  #copyOne(e: CopyEntry): number {
    if (this.pending || e.cancel || !workerBegin(this.control)) return 0;
    let n: number;
    let errno = 0;
    try {
      // A constant subject: a string per frame would be garbage in this loop, and a failure
      // reaches the main thread as its errno only.
      n = readFdAt(e.fd, this.#at + HEAD_ROOM, BULK_FRAME_MAX, "copied descriptor");
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
      return 0;
    }
    addCopied(this.table, e.slot, n);
    const head = encodeDataFrameHead(e.id, e.type, n);
    this.#buf.set(head, HEAD_ROOM - head.length);
    this.#pendingSlot = e.slot;
    this.#pendingAt = this.#at + HEAD_ROOM - head.length;
    this.#pendingLeft = head.length + n;
    this.writePending();
    return n;
  }

  /**
   * Writes what the port takes of the pending frame; lets go of the port once it is out. One
   * writev(2) of 32 KiB segments per frame instead of nine write(2) calls (the port takes 32 KiB a
   * call): one guest, 256 MiB of stdout five times each, alternating: 190-193 -> 206-208 MB/s.
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
