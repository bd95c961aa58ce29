/**
 * The frame codec: a pure encoder and an incremental decoder.
 *
 * ```
 *  0       4       8   9
 *  +-------+-------+---+------------------------------------------------------+
 *  |  len  |  id   | f |  body: CBOR map {"v": uint, "t": text, "p": bytes}   |
 *  +-------+-------+---+------------------------------------------------------+
 *   u32 BE  u32 BE  u8   p holds the payload, itself CBOR (double encoding)
 *  len = 4 (id) + 1 (flags) + body length; len ≤ MAX_FRAME_SIZE
 * ```
 */
import { agentdError, type AgentdError, ErrorCodes } from "../errors.ts";
import { decodeCbor } from "./cbor-decode.ts";
import { encodeCbor } from "./cbor-encode.ts";
import { FRAME_HEADER_SIZE, FRAME_LENGTH_SIZE, MAX_FRAME_SIZE, PROTOCOL_VERSION } from "./constants.ts";
import { flagsFor, isMessageType, type MessageTypeName } from "./messages.ts";
import { DATA_PREFIX_MAX, NEED_MORE, parseDataPrefix, type InboundDataType } from "./data-prefix.ts";
import { decodePayload } from "./payload-decode.ts";
import { payloadValue } from "./payload-encode.ts";
import type { Frame, Message } from "./payloads.ts";

const textEncoder = new TextEncoder();
/** Byte offsets of the header fields, tested one by one against the diagram above. */
export const OFFSET_LEN = 0;
export const OFFSET_ID = 4;
export const OFFSET_FLAGS = 8;
export const OFFSET_BODY = 9;

/** The CBOR head of major type `major` with argument `n` (n < 2^32). */
function cborHead(major: number, n: number): Uint8Array {
  const out = new Uint8Array(cborHeadLength(n));
  putCborHead(out, 0, major, n);
  return out;
}

const ENVELOPE_PREFIX_CACHE = new Map<string, Uint8Array>();

/** `a3 61 76 01 61 74 <t> 61 70`: the envelope up to the payload's byte-string head. */
function envelopePrefix(t: MessageTypeName): Uint8Array {
  let cached = ENVELOPE_PREFIX_CACHE.get(t);
  if (!cached) {
    const tBytes = textEncoder.encode(t);
    cached = Uint8Array.from([
      0xa3,
      0x61,
      0x76,
      PROTOCOL_VERSION,
      0x61,
      0x74,
      ...cborHead(3, tBytes.length),
      ...tBytes,
      0x61,
      0x70,
    ]);
    ENVELOPE_PREFIX_CACHE.set(t, cached);
  }
  return cached;
}

/** Largest envelope prefix + 5-byte byte-string head + 9-byte frame header. */
const MAX_PREFIX = 64;

/**
 * The `len` an encoded frame declares (id, flags and body: what MAX_FRAME_SIZE bounds) when it is
 * over MAX_FRAME_SIZE, which a receiver skips unread; else 0.
 */
export function oversizeLen(frame: Uint8Array): number {
  const len = frame.length - FRAME_LENGTH_SIZE;
  return len > MAX_FRAME_SIZE ? len : 0;
}

/**
 * Encodes one frame. The payload is written once into the final buffer (the header is filled in
 * backwards in front of it), so a 3 MiB data chunk is copied exactly once. The flags come from
 * the message table; `flags` overrides them only for tests of foreign input.
 */
export function encodeFrame(id: number, message: Message, flags = flagsFor(message.type)): Uint8Array {
  const value = payloadValue(message);
  const out = value === null ? new Uint8Array(MAX_PREFIX) : encodeCbor(value, MAX_PREFIX);
  const payloadLength = out.length - MAX_PREFIX;
  const prefix = envelopePrefix(message.type);
  let start = MAX_PREFIX - cborHeadLength(payloadLength);
  putCborHead(out, start, 2, payloadLength);
  start -= prefix.length;
  out.set(prefix, start);
  start -= OFFSET_BODY;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const len = out.length - start - FRAME_LENGTH_SIZE;
  view.setUint32(start + OFFSET_LEN, len);
  view.setUint32(start + OFFSET_ID, id >>> 0);
  out[start + OFFSET_FLAGS] = flags;
  return out.subarray(start);
}

/** The message types whose payload is `{data: bytes}`, the bulk of every stream. */
export type DataMessageType = "core.exec.stdout" | "core.exec.stderr" | "core.exec.stdin" | "core.fs.data";

/** `a1 64 "data"`: the payload map up to the data's byte-string head. */
const DATA_KEY = Uint8Array.from([0xa1, 0x64, 0x64, 0x61, 0x74, 0x61]);

/**
 * Everything of a `{data}` frame except the data bytes, which end the frame: the frame is
 * `head` followed by the data, byte for byte what encodeFrame gives. Lets a sender write a large
 * chunk from where it already is (a read buffer), with no frame-sized allocation and copy.
 */
export function encodeDataFrameHead(id: number, type: DataMessageType, dataLength: number): Uint8Array {
  // Written byte by byte into its final buffer: this runs once per stream frame, and under TCG
  // the arrays and DataView of a general encoder cost more than the rest of the frame's handling.
  const prefix = envelopePrefix(type);
  const inner = DATA_KEY.length + cborHeadLength(dataLength);
  const outer = cborHeadLength(inner + dataLength);
  const head = new Uint8Array(OFFSET_BODY + prefix.length + outer + inner);
  putUint32(head, OFFSET_LEN, head.length - FRAME_LENGTH_SIZE + dataLength);
  putUint32(head, OFFSET_ID, id >>> 0);
  head[OFFSET_FLAGS] = flagsFor(type);
  head.set(prefix, OFFSET_BODY);
  let at = putCborHead(head, OFFSET_BODY + prefix.length, 2, inner + dataLength);
  head.set(DATA_KEY, at);
  at = putCborHead(head, at + DATA_KEY.length, 2, dataLength);
  return head;
}

/** Bytes of the CBOR head for an argument of `n`. */
function cborHeadLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Writes cborHead(major, n) at `at`; returns the offset after it. */
function putCborHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = m | 26;
  putUint32(out, at + 1, n);
  return at + 5;
}

function putUint32(out: Uint8Array, at: number, n: number): void {
  out[at] = (n >>> 24) & 0xff;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** What the decoder produced from the stream. */
export type DecodeEvent =
  /**
   * A well-formed frame. `more` is set on a piece of a large data frame handed on as it arrived
   * (FrameDecoder's `pieceSize`): true while more pieces of the same frame follow, false on its
   * last. A piece is never empty, so it never means "close stdin" or "end of upload".
   */
  | { kind: "frame"; frame: Frame; more?: boolean }
  /** A whole frame whose body was bad; `type` is set when only the payload was wrong. */
  | { kind: "invalid"; id: number; flags: number; type: MessageTypeName | null; error: AgentdError }
  /** A frame with an impossible length, skipped by its length as its bytes arrived. */
  | { kind: "skipped"; id: number | null; length: number; error: AgentdError };

/** Decodes the body of one complete frame. Never throws. */
export function decodeBody(id: number, flags: number, body: Uint8Array): DecodeEvent {
  const invalid = (
    type: MessageTypeName | null,
    code: AgentdError["code"],
    message: string,
  ): DecodeEvent => ({
    kind: "invalid",
    id,
    flags,
    type,
    error: agentdError(code, message),
  });
  const envelope = decodeCbor(body);
  if (!envelope.ok) return invalid(null, ErrorCodes.BAD_ENVELOPE, envelope.error.message);
  const env = envelope.value;
  if (typeof env !== "object" || env === null || Array.isArray(env) || env instanceof Uint8Array) {
    return invalid(null, ErrorCodes.BAD_ENVELOPE, "body is not a CBOR map");
  }
  const { v, t, p } = env as Record<string, unknown>;
  if (!(typeof v === "number" && Number.isInteger(v) && v >= 0) && typeof v !== "bigint") {
    return invalid(null, ErrorCodes.BAD_ENVELOPE, "envelope key v is missing or not an unsigned integer");
  }
  if (typeof t !== "string")
    return invalid(null, ErrorCodes.BAD_ENVELOPE, "envelope key t is missing or not text");
  if (!isMessageType(t)) {
    return invalid(null, ErrorCodes.UNKNOWN_TYPE, `unknown message type ${JSON.stringify(t.slice(0, 64))}`);
  }
  if (!(p instanceof Uint8Array)) {
    return invalid(t, ErrorCodes.BAD_PAYLOAD, "envelope key p is missing or not a byte string");
  }
  let inner: ReturnType<typeof decodeCbor> | null = null;
  if (p.length > 0) {
    inner = decodeCbor(p);
    if (!inner.ok) return invalid(t, ErrorCodes.BAD_PAYLOAD, `payload: ${inner.error.message}`);
  }
  const payload = decodePayload(t, inner?.ok ? inner.value : undefined);
  if (!payload.ok) return invalid(t, ErrorCodes.BAD_PAYLOAD, payload.error);
  return { kind: "frame", frame: { id, flags, type: t, payload: payload.value } as Frame };
}

/**
 * Incremental decoder: push chunks as they arrive, pull events with `next()` until it returns
 * null ("need more"). Chunks are kept as a list plus a byte count and sliced with subarray; a
 * frame's bytes are copied only when it spans chunks. A declared length above MAX_FRAME_SIZE is
 * rejected before allocating and its bytes are dropped as they stream in.
 *
 * With a `pieceSize`, a data frame from the host (`core.exec.stdin`, `core.fs.data`, in the exact
 * form data-prefix.ts checks) with more data than that is not gathered whole: its data is handed
 * on in pieces of up to `pieceSize` bytes as they arrive, each a frame event of the same id, flags
 * and type with `more` set. A whole 3 or 4 MiB frame held while the one before it was still being
 * written made agentd's RSS peak at 60-65 MiB after a long load.
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
  ) {}

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
    type: InboundDataType;
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
   * Starts handing the frame of length `len` on in pieces if it is a data frame with more data than
   * a piece; its header and prefix are dropped. False: decode it whole.
   */
  #startStream(len: number): boolean | typeof NEED_MORE {
    const head = new Uint8Array(
      Math.min(this.#buffered, OFFSET_BODY + DATA_PREFIX_MAX, FRAME_LENGTH_SIZE + len),
    );
    this.#copyOut(head);
    if (head.length <= OFFSET_BODY) return NEED_MORE;
    const prefix = parseDataPrefix(head.subarray(OFFSET_BODY), len - FRAME_HEADER_SIZE);
    // Enough bytes always tell (DATA_PREFIX_MAX): wanting more with them all means it is no data frame.
    if (prefix === NEED_MORE) return head.length < OFFSET_BODY + DATA_PREFIX_MAX ? NEED_MORE : false;
    if (!prefix || prefix.dataLength <= this.pieceSize) return false;
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

  /** The next piece of the streamed frame once it is full (or the frame's last), else null. */
  #nextPiece(): DecodeEvent | null {
    const s = this.#stream!;
    s.piece ??= this.alloc(Math.min(s.left, this.pieceSize));
    s.filled += this.#moveInto(s.piece, s.filled);
    if (s.filled < s.piece.length) return null;
    const data = s.piece;
    s.piece = null;
    s.filled = 0;
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

  /** Removes exactly n buffered bytes (n ≤ buffered) as one contiguous array. */
  #take(n: number): Uint8Array {
    const head = this.#chunks[0]!;
    // A view would outlive a lent chunk: copy instead (see pushBorrowed).
    if (head.length >= n && !this.#lending) {
      this.#discard(n);
      return head.subarray(0, n);
    }
    const out = this.alloc(n);
    this.#moveInto(out);
    return out;
  }
}
