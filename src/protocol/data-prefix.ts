/**
 * Recognises the body of a data frame from its first bytes: host→guest (`core.exec.stdin`,
 * `core.fs.data`) in agentd, guest→host (`core.exec.stdout`, `core.exec.stderr`, `core.fs.data`)
 * in the host's client, so that the decoder can hand a large frame's data on in pieces as they
 * arrive instead of gathering the whole frame first (frame-decoder.ts, FrameDecoder's `pieceSize`).
 *
 * ```
 *  a3  61 76 <uint v>  61 74 <text t>  61 70 <bytes head: P>  a1 64 "data" <bytes head: D>  <D bytes>
 *  map(3) "v"          "t"             "p"                    map(1) "data"
 * ```
 * Only this exact form qualifies: the three envelope keys in this order, the payload a map of
 * the one key `data`, and both byte-string lengths ending exactly where the frame ends, so the
 * data is the frame's tail and nothing follows it. Such a body decodes, whole, to exactly
 * `{type: t, payload: {data}}`; any other form (extra or reordered keys, another type, lengths
 * that do not end at the frame's end) returns null and the frame is decoded whole as before,
 * with its errors. Heads of any width are accepted, as the whole-frame decoder accepts them.
 */
import type { DataMessageType } from "./frame.ts";

/** The types whose data a host sends in bulk. */
export type InboundDataType = Extract<DataMessageType, "core.exec.stdin" | "core.fs.data">;
/** The types whose data a guest sends in bulk. */
export type OutboundDataType = Extract<
  DataMessageType,
  "core.exec.stdout" | "core.exec.stderr" | "core.fs.data"
>;

/** Which data frames a reader takes apart: the ones its peer sends. */
export const INBOUND_DATA_TYPES: readonly InboundDataType[] = ["core.exec.stdin", "core.fs.data"];
export const OUTBOUND_DATA_TYPES: readonly OutboundDataType[] = [
  "core.exec.stdout",
  "core.exec.stderr",
  "core.fs.data",
];

/** Where a data frame's bytes begin, and how many follow. */
export interface DataPrefix<T extends DataMessageType = InboundDataType> {
  type: T;
  /** Bytes of the body before the data. */
  length: number;
  /** Bytes of data: the rest of the body. */
  dataLength: number;
}

/**
 * Bytes that always suffice to tell: the longest qualifying prefix is 65 (every head 9 bytes wide,
 * the longest type name, `core.exec.stdout`), and a type name over 32 bytes is refused before its
 * bytes are needed.
 */
export const DATA_PREFIX_MAX = 80;

const DATA_KEY = [0xa1, 0x64, 0x64, 0x61, 0x74, 0x61];
const textDecoder = new TextDecoder();

/** Not enough bytes yet to tell. */
export const NEED_MORE = "more";

/** Ends a parse early with its result: not the data form, or not enough bytes yet. */
class Stop {
  constructor(readonly result: null | typeof NEED_MORE) {}
}
const NOT_DATA = new Stop(null);
const TOO_SHORT = new Stop(NEED_MORE);

/**
 * Parses the start of a frame body of `bodyLength` bytes; `bytes` holds its first bytes (up to
 * DATA_PREFIX_MAX). Returns the prefix, null when the body is not of the data form (or of a type
 * not in `types`), or NEED_MORE when `bytes` ends before that can be told.
 */
export function parseDataPrefix<T extends DataMessageType = InboundDataType>(
  bytes: Uint8Array,
  bodyLength: number,
  types: readonly T[] = INBOUND_DATA_TYPES as readonly T[],
): DataPrefix<T> | null | typeof NEED_MORE {
  let at = 0;
  const byte = (): number => {
    if (at >= bytes.length) throw TOO_SHORT;
    return bytes[at++]!;
  };
  const expect = (...want: number[]): void => {
    for (const b of want) if (byte() !== b) throw NOT_DATA;
  };
  /** The argument of a head of major type `major`: another major or an indefinite length is not data. */
  const head = (major: number): number => {
    const first = byte();
    const info = first & 0x1f;
    if (first >> 5 !== major || info > 27) throw NOT_DATA;
    if (info < 24) return info;
    let n = 0;
    for (let i = 1 << (info - 24); i > 0; i--) n = n * 256 + byte();
    return n;
  };
  try {
    expect(0xa3, 0x61, 0x76);
    head(0);
    expect(0x61, 0x74);
    const typeLength = head(3);
    if (typeLength > 32) throw NOT_DATA;
    if (at + typeLength > bytes.length) throw TOO_SHORT;
    const name = textDecoder.decode(bytes.subarray(at, at + typeLength));
    const type = types.find((t) => t === name);
    if (!type) throw NOT_DATA;
    at += typeLength;
    expect(0x61, 0x70);
    if (head(2) !== bodyLength - at) throw NOT_DATA;
    expect(...DATA_KEY);
    const dataLength = head(2);
    if (dataLength !== bodyLength - at) throw NOT_DATA;
    return { type, length: at, dataLength };
  } catch (e) {
    if (e instanceof Stop) return e.result;
    throw e;
  }
}
