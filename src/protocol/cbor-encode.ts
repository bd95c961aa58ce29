/**
 * A small CBOR encoder for the shapes the protocol uses: maps with text keys (in insertion
 * order, which is the Rust struct field order), arrays, text, byte strings, bool, null and
 * integers in their shortest form up to u64/i64 (numbers or BigInts). It exists because the
 * general-purpose encoders either sort keys, tag byte arrays, or write integers ≥ 2^32 as
 * floats, each of which the Rust side rejects or encodes differently.
 *
 * Encoding measures first, then writes into one buffer, so a byte payload is copied once.
 */
import { agentdError, ErrorCodes } from "../errors.ts";

/** Values the encoder accepts. `undefined` map entries are skipped (absent optional key). */
export type CborValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly CborValue[]
  | { readonly [key: string]: CborValue | undefined };

const textEncoder = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;
/** The most negative integer CBOR has (major type 1 with u64::MAX): -2^64. */
const CBOR_NEG_MIN = -(U64_MAX + 1n);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Pre-encoded bytes spliced verbatim into the output (used for the envelope's inner payload). */
export class RawCbor {
  constructor(readonly bytes: Uint8Array) {}
}

function headLength(n: number | bigint): number {
  if (n < 24) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  if (n < 0x100000000) return 5;
  return 9;
}

function toUnsignedArgument(value: number | bigint): { major: number; arg: number | bigint } {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw agentdError(ErrorCodes.ENCODE, `not an integer: ${value}`);
    if (!Number.isSafeInteger(value)) value = BigInt(value);
  }
  if (typeof value === "bigint") {
    // Within a double's exact range a BigInt goes on as a number, so that its head is written
    // with plain arithmetic: core.ready's three u64 times are agentd's first encode at boot, where
    // BigInt arithmetic ran for the first time (under TCG the encode took 4-7 ms).
    if (value >= 0n && value <= SAFE_MAX) return { major: 0, arg: Number(value) };
    if (value > U64_MAX || value < CBOR_NEG_MIN) {
      throw agentdError(ErrorCodes.ENCODE, `integer out of 64-bit range: ${value}`);
    }
    return value >= 0n ? { major: 0, arg: value } : { major: 1, arg: -1n - value };
  }
  return value >= 0 ? { major: 0, arg: value } : { major: 1, arg: -1 - value };
}

/** Measures the encoded size; caches UTF-8 of strings in `texts` in visit order. */
function measure(value: CborValue | RawCbor, texts: Uint8Array[]): number {
  if (value === null || typeof value === "boolean") return 1;
  if (typeof value === "number" || typeof value === "bigint") {
    return headLength(toUnsignedArgument(value).arg);
  }
  if (typeof value === "string") {
    const bytes = textEncoder.encode(value);
    texts.push(bytes);
    return headLength(bytes.length) + bytes.length;
  }
  if (value instanceof Uint8Array) return headLength(value.length) + value.length;
  if (value instanceof RawCbor) return value.bytes.length;
  if (Array.isArray(value)) {
    const items = value as CborValue[];
    let size = headLength(items.length);
    for (let i = 0; i < items.length; i++) size += measure(items[i]!, texts);
    return size;
  }
  const map = value as { readonly [key: string]: CborValue | undefined };
  const keys = Object.keys(map);
  let size = headLength(definedCount(map, keys));
  for (let i = 0; i < keys.length; i++) {
    const v = map[keys[i]!];
    if (v !== undefined) size += measure(keys[i]!, texts) + measure(v, texts);
  }
  return size;
}

/**
 * The entries of `map` that are not undefined. Plain index loops over Object.keys here and
 * below, not entries()/filter()/for-of/destructuring: those run builtins that are JavaScript,
 * compiled on their first call, and the first frame agentd encodes is core.ready (under TCG
 * its first encode took 10-12 ms at boot, docs/performance.md).
 */
function definedCount(map: { readonly [key: string]: CborValue | undefined }, keys: string[]): number {
  let n = 0;
  for (let i = 0; i < keys.length; i++) if (map[keys[i]!] !== undefined) n++;
  return n;
}

class Writer {
  pos = 0;
  textIndex = 0;
  constructor(
    readonly out: Uint8Array,
    readonly view: DataView,
    readonly texts: Uint8Array[],
  ) {}

  head(major: number, arg: number | bigint): void {
    const m = major << 5;
    const o = this.out;
    if (arg < 24) o[this.pos++] = m | Number(arg);
    else if (arg < 0x100) {
      o[this.pos++] = m | 24;
      o[this.pos++] = Number(arg);
    } else if (arg < 0x10000) {
      o[this.pos++] = m | 25;
      this.view.setUint16(this.pos, Number(arg));
      this.pos += 2;
    } else if (arg < 0x100000000) {
      o[this.pos++] = m | 26;
      this.view.setUint32(this.pos, Number(arg));
      this.pos += 4;
    } else {
      o[this.pos++] = m | 27;
      this.view.setBigUint64(this.pos, BigInt(arg));
      this.pos += 8;
    }
  }

  bytes(major: number, b: Uint8Array): void {
    this.head(major, b.length);
    this.out.set(b, this.pos);
    this.pos += b.length;
  }

  value(v: CborValue | RawCbor): void {
    if (v === null) this.out[this.pos++] = 0xf6;
    else if (v === true) this.out[this.pos++] = 0xf5;
    else if (v === false) this.out[this.pos++] = 0xf4;
    else if (typeof v === "number" || typeof v === "bigint") {
      const { major, arg } = toUnsignedArgument(v);
      this.head(major, arg);
    } else if (typeof v === "string") this.bytes(3, this.texts[this.textIndex++]!);
    else if (v instanceof Uint8Array) this.bytes(2, v);
    else if (v instanceof RawCbor) {
      this.out.set(v.bytes, this.pos);
      this.pos += v.bytes.length;
    } else if (Array.isArray(v)) {
      const items = v as CborValue[];
      this.head(4, items.length);
      for (let i = 0; i < items.length; i++) this.value(items[i]!);
    } else {
      const map = v as { readonly [key: string]: CborValue | undefined };
      const keys = Object.keys(map);
      this.head(5, definedCount(map, keys));
      for (let i = 0; i < keys.length; i++) {
        const x = map[keys[i]!];
        if (x === undefined) continue;
        this.value(keys[i]!);
        this.value(x);
      }
    }
  }
}

/**
 * Encodes `value` into a new buffer, leaving `prefix` bytes free at its start for a caller's
 * header (the frame encoder uses this to avoid a second copy).
 */
export function encodeCbor(value: CborValue | RawCbor, prefix = 0): Uint8Array {
  const texts: Uint8Array[] = [];
  const size = measure(value, texts);
  const out = new Uint8Array(prefix + size);
  const writer = new Writer(out, new DataView(out.buffer), texts);
  writer.pos = prefix;
  writer.value(value);
  return out;
}
