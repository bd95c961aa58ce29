/**
 * The frame codec: a pure encoder and the decoder of one frame's body (the incremental decoder
 * that cuts frames from a stream is frame-decoder.ts).
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
import { FRAME_LENGTH_SIZE, MAX_FRAME_SIZE, PROTOCOL_VERSION } from "./constants.ts";
import { flagsFor, isMessageType, type MessageTypeName } from "./messages.ts";
import { decodePayload } from "./payload-decode.ts";
import { payloadValue } from "./payload-encode.ts";
import type { Frame, Message } from "./payloads.ts";

const textEncoder = new TextEncoder();
/** Byte offsets of the header fields, tested one by one against the diagram above. */
export const OFFSET_LEN = 0;
export const OFFSET_ID = 4;
export const OFFSET_FLAGS = 8;
export const OFFSET_BODY = 9;

const ENVELOPE_PREFIX_CACHE = new Map<string, Uint8Array>();

/** `a3 61 76 01 61 74 <t> 61 70`: the envelope up to the payload's byte-string head. */
function envelopePrefix(t: MessageTypeName): Uint8Array {
  let cached = ENVELOPE_PREFIX_CACHE.get(t);
  if (!cached) {
    // Filled in place, no spread: a typed array's iterator is a builtin compiled on first use
    // (the first prefix made is core.ready's, on the way to it: cbor-encode.ts).
    const tBytes = textEncoder.encode(t);
    const head = [0xa3, 0x61, 0x76, PROTOCOL_VERSION, 0x61, 0x74];
    cached = new Uint8Array(head.length + cborHeadLength(tBytes.length) + tBytes.length + 2);
    cached.set(head);
    let at = putCborHead(cached, head.length, 3, tBytes.length);
    cached.set(tBytes, at);
    at += tBytes.length;
    cached[at] = 0x61;
    cached[at + 1] = 0x70;
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
const DATA_KEY = new Uint8Array([0xa1, 0x64, 0x64, 0x61, 0x74, 0x61]);

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

/** Writes the CBOR head of major type `major` with argument `n` (n < 2^32) at `at`; returns the offset after it. */
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

/** `n` (< 2^32) big-endian at `at`. */
export function putUint32(out: Uint8Array, at: number, n: number): void {
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
