/**
 * The port thread's pass over the host's bytes as they are read: it follows the frames and writes
 * the data of `core.exec.stdin` frames straight into the child's pipe from the inbox slot they
 * were read into, when the session allows it (port/stdin-table.ts); everything else is handed to
 * the main thread, whole frames in order, as regions of the slot.
 *
 * Why: stdin's bytes went through two threads (this one reading the port, the main thread
 * decoding and writing the pipe), and under TCG that hop was agentd's own share of stdin's gap:
 * in the bench's alternating rounds agentd got 75% of a one-loop Bun relay doing the same job
 * (both runs of 2026-12-02 before this), and 84-116% after (three runs). One guest per build,
 * four 256 MiB transfers into `cat`, builds alternating on a noisy host: 86.0 and 74.9 MB/s on
 * average before, 82.8 and 108.6 after; agentd's CPU per 256 MiB 3.0-3.2 s before, 2.3-2.8 after.
 *
 * A frame is written here only when the decision can be made from its first bytes in this read
 * (its head and the data form, data-prefix.ts: 9 + DATA_PREFIX_MAX bytes, or the whole frame);
 * a frame whose head is split between two reads, a frame of any other form or type, a close (no
 * data) and a frame of a session that may not be written now go to the main thread whole. A frame
 * written here is never seen by the main thread's decoder, which sees only whole frames. When the
 * pipe takes less than what arrived (a child that reads slowly) or the write fails, the rest of
 * that frame's data goes to the main thread as the session's stdin (a "rest" region), and the
 * session's later frames go there too until its writer has caught up.
 *
 * Regions: [start, length, id] triples, in stream order; id STREAM for bytes of whole frames for
 * the decoder, a session id for the rest of a frame's stdin. Pure but for the target's writes.
 */
import { FRAME_HEADER_SIZE, FRAME_LENGTH_SIZE, MAX_FRAME_SIZE } from "../../protocol/constants.ts";
import { DATA_PREFIX_MAX, parseDataPrefix } from "../../protocol/data-prefix.ts";
import { OFFSET_BODY, OFFSET_ID } from "../../protocol/frame-head.ts";

/** A region's id for bytes of whole frames, for the main thread's decoder. */
export const STREAM = -1;

export interface SplitTarget {
  /**
   * The entry through which session `id`'s stdin may be written now, or -1. `regions` holds what
   * this read has handed on so far: the target may give it to the main thread at once (and empty
   * the array) and wait for the main thread to catch up, so that an upload that went through the
   * main thread for a while (a slow child, a session just started) comes back here: each of its
   * frames starts in a read that also holds the last bytes of the one before.
   */
  direct(id: number, regions: number[]): number;
  /**
   * write(2) of `length` bytes at `address` to the entry's pipe: bytes taken; 0 when the pipe is
   * full, the entry was stopped, or the write failed (the target stops the entry then).
   */
  write(entry: number, address: number, length: number): number;
}

const FORWARD = 0;
const WRITE = 1;
const REST = 2;
type Mode = typeof FORWARD | typeof WRITE | typeof REST;

/** Bytes from a frame's start that always suffice to tell whether it is written here. */
const DECIDE = OFFSET_BODY + DATA_PREFIX_MAX;
const STDIN = ["core.exec.stdin"] as const;

export class InboundSplitter {
  /** Bytes of the current frame still to come; 0 when the next byte starts a frame. */
  #left = 0;
  #mode: Mode = FORWARD;
  #entry = -1;
  #id = 0;
  /** Within a length prefix split between two reads: its bytes so far and their value. */
  #inLength = false;
  #lenBytes = 0;
  #lenValue = 0;
  #regions: number[] = [];
  /** Bytes handed to the main thread, modulo 2^32 (compared with stdin-table's DONE). */
  forwarded = 0;

  constructor(readonly target: SplitTarget) {}

  /** The host went away: the next byte read is a new host's first. */
  reset(): void {
    this.#left = 0;
    this.#mode = FORWARD;
    this.#inLength = false;
  }

  /**
   * Takes `bytes` (read into memory at `address`): writes what goes to pipes, and puts into
   * `regions` (emptied first) what goes to the main thread.
   */
  split(bytes: Uint8Array, address: number, regions: number[]): void {
    regions.length = 0;
    this.#regions = regions;
    const n = bytes.length;
    let at = 0;
    while (at < n) {
      if (this.#inLength) {
        // A length prefix split between reads: forwarded, as its frame will be.
        const take = Math.min(FRAME_LENGTH_SIZE - this.#lenBytes, n - at);
        for (let i = 0; i < take; i++) this.#lenValue = this.#lenValue * 256 + bytes[at + i]!;
        this.#push(regions, at, take, STREAM);
        at += take;
        this.#lenBytes += take;
        if (this.#lenBytes === FRAME_LENGTH_SIZE) {
          this.#inLength = false;
          this.#left = this.#lenValue;
        }
        continue;
      }
      if (this.#left === 0) {
        at = this.#start(bytes, at);
        continue;
      }
      const take = Math.min(this.#left, n - at);
      if (this.#mode === WRITE) {
        const wrote = this.target.write(this.#entry, address + at, take);
        if (wrote < take) {
          this.#mode = REST;
          this.#push(regions, at + wrote, take - wrote, this.#id);
        }
      } else this.#push(regions, at, take, this.#mode === REST ? this.#id : STREAM);
      this.#left -= take;
      at += take;
    }
  }

  /** At a frame's first byte: decides where the frame goes; returns where its bytes go on. */
  #start(bytes: Uint8Array, at: number): number {
    const avail = bytes.length - at;
    this.#mode = FORWARD;
    if (avail < FRAME_LENGTH_SIZE) {
      // The frame goes to the main thread; the loop above reads its length as it comes.
      this.#inLength = true;
      this.#lenBytes = 0;
      this.#lenValue = 0;
      return at;
    }
    const len = u32(bytes, at);
    // The decoder skips a frame of an impossible length by the same count (frame-decoder.ts).
    this.#left = FRAME_LENGTH_SIZE + len;
    if (len < FRAME_HEADER_SIZE || len > MAX_FRAME_SIZE) return at;
    const end = Math.min(FRAME_LENGTH_SIZE + len, DECIDE);
    if (avail < end) return at;
    const bodyLength = len - FRAME_HEADER_SIZE;
    const prefix = parseDataPrefix(bytes.subarray(at + OFFSET_BODY, at + end), bodyLength, STDIN);
    if (prefix === null || typeof prefix === "string" || prefix.dataLength === 0) return at;
    const id = u32(bytes, at + OFFSET_ID);
    const entry = this.target.direct(id, this.#regions);
    if (entry < 0) return at;
    this.#mode = WRITE;
    this.#entry = entry;
    this.#id = id;
    this.#left = prefix.dataLength;
    // The head is dropped: the main thread never sees this frame.
    return at + OFFSET_BODY + prefix.length;
  }

  #push(regions: number[], start: number, length: number, id: number): void {
    if (length <= 0) return;
    this.forwarded = (this.forwarded + length) | 0;
    const last = regions.length - 3;
    if (last >= 0 && regions[last + 2] === id && regions[last]! + regions[last + 1]! === start)
      regions[last + 1] = regions[last + 1]! + length;
    else regions.push(start, length, id);
  }
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}
