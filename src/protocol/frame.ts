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
import { FRAME_LENGTH_SIZE, MAX_FRAME_SIZE } from "./constants.ts";
import {
  cborHeadLength,
  envelopePrefix,
  OFFSET_BODY,
  OFFSET_FLAGS,
  OFFSET_ID,
  OFFSET_LEN,
  putCborHead,
} from "./frame-head.ts";
import { flagsFor, isMessageType, type MessageTypeName } from "./messages.ts";
import { decodePayload } from "./payload-decode.ts";
import { payloadValue } from "./payload-encode.ts";
import type { Frame, Message } from "./payloads.ts";

export {
  encodeDataFrameHead,
  OFFSET_BODY,
  OFFSET_FLAGS,
  OFFSET_ID,
  OFFSET_LEN,
  type DataMessageType,
} from "./frame-head.ts";

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
