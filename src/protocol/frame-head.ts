/**
 * A frame's header and envelope written by hand: the byte offsets of the header, the envelope's
 * prefix up to the payload, CBOR heads, and the whole of a `{data}` frame but its data
 * (encodeDataFrameHead). In a module of its own, beside frame.ts's general codec, because the
 * port thread (port/copy-loop.ts) needs only this, and all it loads it loads at boot before it
 * opens libc and polls the port: without the codec its bundle is 31 KB instead of 53, and its
 * start to libc took 36-42 ms against 41-44 (four boots each).
 */
import { FRAME_LENGTH_SIZE, PROTOCOL_VERSION } from "./constants.ts";
import { flagsFor, type MessageTypeName } from "./messages.ts";

const textEncoder = new TextEncoder();
/** Byte offsets of the header fields, tested one by one against frame.ts's diagram. */
export const OFFSET_LEN = 0;
export const OFFSET_ID = 4;
export const OFFSET_FLAGS = 8;
export const OFFSET_BODY = 9;

const ENVELOPE_PREFIX_CACHE = new Map<string, Uint8Array>();

/** `a3 61 76 01 61 74 <t> 61 70`: the envelope up to the payload's byte-string head. */
export function envelopePrefix(t: MessageTypeName): Uint8Array {
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
export function cborHeadLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Writes the CBOR head of major type `major` with argument `n` (n < 2^32) at `at`; returns the offset after it. */
export function putCborHead(out: Uint8Array, at: number, major: number, n: number): number {
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
