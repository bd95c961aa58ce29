/**
 * The incremental frame decoder (the encoder and the body decoder are in frame.ts): bytes in as
 * they arrive, whole frames (or pieces of large data frames) out, hostile lengths skipped.
 */
import { agentdError, ErrorCodes } from "../errors.ts";
import { FRAME_HEADER_SIZE, FRAME_LENGTH_SIZE, MAX_FRAME_SIZE } from "./constants.ts";
import { DATA_PREFIX_MAX, INBOUND_DATA_TYPES, NEED_MORE, parseDataPrefix } from "./data-prefix.ts";
import {
  decodeBody,
  OFFSET_BODY,
  OFFSET_FLAGS,
  OFFSET_ID,
  type DataMessageType,
  type DecodeEvent,
} from "./frame.ts";
import type { Frame } from "./payloads.ts";

/** How a decoder hands on large data frames (besides `pieceSize`). */
export interface PieceOptions {
  /** The data frames it takes apart: the ones its peer sends (default: the host's, stdin and fs.data). */
  streamed?: readonly DataMessageType[];
  /**
   * Pieces are views of the pushed chunks, as the bytes arrive, one per chunk a frame spans, of
   * any size (`pieceSize` is then only the threshold): no copy and no buffer per frame. For
   * chunks the decoder may keep (push, never pushBorrowed). The host's client, where copying
   * each 256 KiB stdout frame out of the socket's chunks cost as much CPU as the socket itself.
   */
  views?: boolean;
}

/**
 * With views, a frame or piece smaller than 1/PIN_LIMIT of the memory under its chunk is copied
 * instead: a consumer holding small views must not keep large chunks alive (what it holds then
 * pins at most twice its bytes).
 */
const PIN_LIMIT = 2;

/**
 * Incremental decoder: push chunks as they arrive, pull events with `next()` until it returns
 * null ("need more"). Chunks are kept as a list plus a byte count and sliced with subarray; a
 * frame's bytes are copied only when it spans chunks. A declared length above MAX_FRAME_SIZE is
 * rejected before allocating and its bytes are dropped as they stream in.
 *
 * With a `pieceSize`, a data frame from the host (`core.exec.stdin`, `core.fs.data`, in the exact
 * form data-prefix.ts checks) with more data than that is not gathered whole: its data is handed
 * on in pieces of up to `pieceSize` bytes as they arrive (or, with `views`, as views of the chunks
 * it arrived in), each a frame event of the same id, flags and type with `more` set. A whole 3 or
 * 4 MiB frame held while the one before it was still being written made agentd's RSS peak at
 * 60-65 MiB after a long load.
 */
export class FrameDecoder {
  /**
   * @param alloc where a frame's own buffer comes from when its bytes must be gathered (a frame
   *   spanning chunks), and a piece's: agentd passes its frame pool (agent/frame-pool.ts).
   * @param pieceSize data frames with more data than this are handed on in pieces (0: never).
   */
  constructor(
    readonly alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n),
    readonly pieceSize = 0,
    options: PieceOptions = {},
  ) {
    this.#streamed = options.streamed ?? INBOUND_DATA_TYPES;
    this.#views = options.views ?? false;
  }

  readonly #streamed: readonly DataMessageType[];
  readonly #views: boolean;

  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #skipping = 0;
  /**
   * A frame whose length is known but whose bytes are still arriving: its buffer is allocated
   * once and chunks are copied in as they come, so a 3 MiB frame does not also keep its ~50
   * socket chunks alive until the end.
   */
  #partial: Uint8Array | null = null;
  #filled = 0;
  /** The data frame being handed on in pieces; `piece` is filled as its bytes arrive. */
  #stream: {
    id: number;
    flags: number;
    type: DataMessageType;
    /** Data bytes of the frame not yet in a piece handed on. */
    left: number;
    piece: Uint8Array | null;
    filled: number;
  } | null = null;

  /** Bytes held, waiting for the rest of a frame. Bounded by MAX_FRAME_SIZE + one chunk. */
  get buffered(): number {
    return this.#buffered + this.#filled + (this.#stream?.filled ?? 0);
  }

  /**
   * Adds bytes that stay valid: the chunk itself is kept and frames may be views into it. Bytes
   * for a frame already being filled are copied straight into its buffer. A chunk that is only
   * lent (the port's shared inbox slot) goes through pushBorrowed instead.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#partial) {
      const take = Math.min(chunk.length, this.#partial.length - this.#filled);
      this.#partial.set(chunk.subarray(0, take), this.#filled);
      this.#filled += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** True while pushBorrowed runs: buffered chunks may then be the lent chunk itself. */
  #lending = false;

  /**
   * Decodes every frame that `chunk` completes, without keeping the chunk: it is valid only during
   * this call (the port's shared inbox slot). A frame that starts here and goes on gets its own
   * buffer from `alloc`, and the chunk's bytes are copied straight into it; a frame wholly inside
   * the chunk is copied out; only bytes of a length prefix not yet whole are kept, as a copy.
   * (Copying the whole rest of the chunk after a frame's end to keep it, as before, made a piece
   * of garbage of up to a chunk per frame: with 256 KiB slots, RSS peaks 5-7 MiB higher.)
   */
  pushBorrowed(chunk: Uint8Array): DecodeEvent[] {
    const events: DecodeEvent[] = [];
    this.#lending = true;
    try {
      this.push(chunk);
      for (let ev = this.next(); ev; ev = this.next()) events.push(ev);
    } finally {
      this.#lending = false;
      if (this.#chunks.length > 0) {
        const rest = new Uint8Array(this.#buffered);
        this.#moveInto(rest);
        this.#chunks = [rest];
        this.#buffered = rest.length;
      }
    }
    return events;
  }

  #decodeWhole(frame: Uint8Array): DecodeEvent {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    return decodeBody(view.getUint32(OFFSET_ID), frame[OFFSET_FLAGS]!, frame.subarray(OFFSET_BODY));
  }

  next(): DecodeEvent | null {
    if (this.#partial) {
      if (this.#filled < this.#partial.length) return null;
      const frame = this.#partial;
      this.#partial = null;
      this.#filled = 0;
      return this.#decodeWhole(frame);
    }
    if (this.#stream) return this.#nextPiece();
    if (this.#skipping > 0) {
      this.#skipping -= this.#discard(this.#skipping);
      if (this.#skipping > 0) return null;
    }
    if (this.#buffered < FRAME_LENGTH_SIZE) return null;
    const len = this.#peekU32(0);
    if (len < FRAME_HEADER_SIZE) {
      this.#discard(FRAME_LENGTH_SIZE);
      this.#skipping = len;
      this.#skipping -= this.#discard(len);
      const error = agentdError(
        ErrorCodes.FRAME_TOO_SHORT,
        `frame length ${len} is below the ${FRAME_HEADER_SIZE}-byte header`,
      );
      return { kind: "skipped", id: null, length: len, error };
    }
    if (len > MAX_FRAME_SIZE) {
      // Wait for the id so the log can name the session, then drop the frame as it arrives.
      if (this.#buffered < FRAME_LENGTH_SIZE + 4) return null;
      const id = this.#peekU32(FRAME_LENGTH_SIZE);
      this.#discard(FRAME_LENGTH_SIZE);
      this.#skipping = len;
      this.#skipping -= this.#discard(len);
      const error = agentdError(
        ErrorCodes.FRAME_TOO_LARGE,
        `frame length ${len} exceeds MAX_FRAME_SIZE ${MAX_FRAME_SIZE}`,
      );
      return { kind: "skipped", id, length: len, error };
    }
    if (this.pieceSize > 0 && len > this.pieceSize) {
      const started = this.#startStream(len);
      if (started === NEED_MORE) return null;
      if (started) return this.#nextPiece();
    }
    if (this.#buffered < FRAME_LENGTH_SIZE + len) {
      // Collect the rest straight into the frame's own buffer (see #partial).
      this.#partial = this.alloc(FRAME_LENGTH_SIZE + len);
      this.#filled = this.#moveInto(this.#partial);
      return null;
    }
    return this.#decodeWhole(this.#take(FRAME_LENGTH_SIZE + len));
  }

  /**
   * Starts handing the frame of length `len` (over a piece) on in pieces if it is a data frame in
   * the exact form; its header and prefix are dropped. False: decode it whole. A frame whose data
   * is no more than a piece (the host's 1 MiB stdin and upload chunks, a little over a piece with
   * their envelope) goes as one piece, `more` false: its form is checked here already, and
   * decoding it whole through the CBOR decoder besides was 7.5% of the main thread's samples
   * during stdin (a CPU profile in the guest, two 256 MiB transfers in 1 MiB frames).
   */
  #startStream(len: number): boolean | typeof NEED_MORE {
    const head = new Uint8Array(
      Math.min(this.#buffered, OFFSET_BODY + DATA_PREFIX_MAX, FRAME_LENGTH_SIZE + len),
    );
    this.#copyOut(head);
    // Enough bytes always tell (DATA_PREFIX_MAX), and so does the whole frame: wanting more with
    // them means it is no data frame (a frame shorter than the window must not wait forever).
    const told = head.length >= OFFSET_BODY + DATA_PREFIX_MAX || head.length === FRAME_LENGTH_SIZE + len;
    if (head.length <= OFFSET_BODY) return told ? false : NEED_MORE;
    const prefix = parseDataPrefix(head.subarray(OFFSET_BODY), len - FRAME_HEADER_SIZE, this.#streamed);
    if (prefix === NEED_MORE) return told ? false : NEED_MORE;
    if (!prefix) return false;
    const view = new DataView(head.buffer);
    this.#stream = {
      id: view.getUint32(OFFSET_ID),
      flags: head[OFFSET_FLAGS]!,
      type: prefix.type,
      left: prefix.dataLength,
      piece: null,
      filled: 0,
    };
    this.#discard(OFFSET_BODY + prefix.length);
    return true;
  }

  /**
   * The next piece of the streamed frame once it is full (or the frame's last), else null; with
   * views, what the first buffered chunk holds of it.
   */
  #nextPiece(): DecodeEvent | null {
    const s = this.#stream!;
    let data: Uint8Array;
    // A piece begun from a lent chunk is finished as a copy first: its bytes are in it.
    if (this.#views && !this.#lending && s.piece === null) {
      if (this.#buffered === 0) return null;
      data = this.#viewOrCopy(this.#chunks[0]!, Math.min(this.#chunks[0]!.length, s.left));
      this.#discard(data.length);
    } else {
      s.piece ??= this.alloc(Math.min(s.left, this.pieceSize));
      s.filled += this.#moveInto(s.piece, s.filled);
      if (s.filled < s.piece.length) return null;
      data = s.piece;
      s.piece = null;
      s.filled = 0;
    }
    s.left -= data.length;
    if (s.left === 0) this.#stream = null;
    const frame = { id: s.id, flags: s.flags, type: s.type, payload: { data } } as Frame;
    return { kind: "frame", frame, more: s.left > 0 };
  }

  /** Copies the first target.length buffered bytes (≤ buffered) into `target`, keeping them. */
  #copyOut(target: Uint8Array): void {
    let at = 0;
    for (const chunk of this.#chunks) {
      if (at === target.length) break;
      const take = Math.min(chunk.length, target.length - at);
      target.set(chunk.subarray(0, take), at);
      at += take;
    }
  }

  #peekU32(offset: number): number {
    let value = 0;
    let chunkIndex = 0;
    let at = offset;
    for (let i = 0; i < 4; i++) {
      while (at >= this.#chunks[chunkIndex]!.length) {
        at -= this.#chunks[chunkIndex]!.length;
        chunkIndex++;
      }
      value = value * 256 + this.#chunks[chunkIndex]![at]!;
      at++;
    }
    return value;
  }

  /** Drops up to n buffered bytes; returns how many were dropped. */
  #discard(n: number): number {
    let dropped = 0;
    while (dropped < n && this.#chunks.length > 0) {
      const head = this.#chunks[0]!;
      const take = Math.min(head.length, n - dropped);
      if (take === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
      dropped += take;
    }
    this.#buffered -= dropped;
    return dropped;
  }

  /**
   * Moves buffered bytes into `target` from `start` until it is full or nothing is buffered (no
   * copy in between); returns how many.
   */
  #moveInto(target: Uint8Array, start = 0): number {
    let at = start;
    while (at < target.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, target.length - at);
      target.set(take === chunk.length ? chunk : chunk.subarray(0, take), at);
      at += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#buffered -= at - start;
    return at - start;
  }

  /** The first n bytes of `chunk` (a kept one), as a view unless it would pin too much (PIN_LIMIT). */
  #viewOrCopy(chunk: Uint8Array, n: number): Uint8Array {
    if (n * PIN_LIMIT >= chunk.buffer.byteLength) return chunk.subarray(0, n);
    const copy = this.alloc(n);
    copy.set(chunk.subarray(0, n));
    return copy;
  }

  /** Removes exactly n buffered bytes (n ≤ buffered) as one contiguous array. */
  #take(n: number): Uint8Array {
    const head = this.#chunks[0]!;
    // A view would outlive a lent chunk: copy instead (see pushBorrowed).
    if (head.length >= n && !this.#lending) {
      const frame = this.#views ? this.#viewOrCopy(head, n) : head.subarray(0, n);
      this.#discard(n);
      return frame;
    }
    const out = this.alloc(n);
    this.#moveInto(out);
    return out;
  }
}
