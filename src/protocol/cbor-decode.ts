/**
 * A strict, bounded CBOR decoder for input from the other side of the wire. Every length is
 * checked against the bytes that remain before anything is allocated, nesting is limited, and
 * any malformation is returned as an error value: hostile bytes can never throw past here or
 * make us reserve memory beyond the frame itself.
 *
 * Maps decode to null-prototype objects keyed by their text keys (other keys are ignored, as
 * serde ignores unknown fields); integers beyond 2^53 decode to BigInt; byte strings are
 * zero-copy views into the input.
 */
import { agentdError, err, ErrorCodes, ok, type Result } from "../errors.ts";

export type Decoded =
  null | undefined | boolean | number | bigint | string | Uint8Array | Decoded[] | { [key: string]: Decoded };

/** Deeper nesting than any protocol message needs; bounds recursion on hostile input. */
const MAX_DEPTH = 64;
const utf8 = new TextDecoder("utf-8", { fatal: true });

class Malformed extends Error {}

class Reader {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  need(n: number): void {
    if (n > this.buf.length - this.pos) throw new Malformed(`truncated at byte ${this.pos}`);
  }

  argument(info: number): number | bigint {
    if (info < 24) return info;
    switch (info) {
      case 24:
        this.need(1);
        return this.buf[this.pos++]!;
      case 25:
        this.need(2);
        this.pos += 2;
        return this.view.getUint16(this.pos - 2);
      case 26:
        this.need(4);
        this.pos += 4;
        return this.view.getUint32(this.pos - 4);
      case 27: {
        this.need(8);
        this.pos += 8;
        const big = this.view.getBigUint64(this.pos - 8);
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      default:
        throw new Malformed(`unsupported additional info ${info} at byte ${this.pos - 1}`);
    }
  }

  /** A length that must fit in the remaining input (each item takes at least one byte). */
  length(info: number): number {
    const n = this.argument(info);
    if (typeof n === "bigint" || n > this.buf.length - this.pos) {
      throw new Malformed(`length ${n} exceeds the ${this.buf.length - this.pos} bytes left`);
    }
    return n;
  }

  chunked(major: number, depth: number): Uint8Array {
    const parts: Uint8Array[] = [];
    for (;;) {
      this.need(1);
      if (this.buf[this.pos] === 0xff) {
        this.pos++;
        break;
      }
      const part = this.item(depth + 1);
      if (major === 2 && !(part instanceof Uint8Array)) throw new Malformed("bad chunk in bytes");
      if (major === 3 && typeof part !== "string") throw new Malformed("bad chunk in text");
      parts.push(typeof part === "string" ? new TextEncoder().encode(part) : (part as Uint8Array));
    }
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  item(depth: number): Decoded {
    if (depth > MAX_DEPTH) throw new Malformed(`nesting deeper than ${MAX_DEPTH}`);
    this.need(1);
    const initial = this.buf[this.pos++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        if (typeof n === "bigint") return -1n - n;
        const v = -1 - n;
        return Number.isSafeInteger(v) ? v : -1n - BigInt(n);
      }
      case 2:
      case 3: {
        let bytes: Uint8Array;
        if (info === 31) bytes = this.chunked(major, depth);
        else {
          const n = this.length(info);
          bytes = this.buf.subarray(this.pos, this.pos + n);
          this.pos += n;
        }
        if (major === 2) return bytes;
        try {
          return utf8.decode(bytes);
        } catch {
          throw new Malformed("text is not valid UTF-8");
        }
      }
      case 4: {
        const out: Decoded[] = [];
        if (info === 31) {
          for (;;) {
            this.need(1);
            if (this.buf[this.pos] === 0xff) {
              this.pos++;
              return out;
            }
            out.push(this.item(depth + 1));
          }
        }
        const n = this.length(info);
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const out: { [key: string]: Decoded } = Object.create(null);
        const indefinite = info === 31;
        const n = indefinite ? Infinity : this.length(info);
        for (let i = 0; i < n; i++) {
          if (indefinite) {
            this.need(1);
            if (this.buf[this.pos] === 0xff) {
              this.pos++;
              break;
            }
          }
          const key = this.item(depth + 1);
          const value = this.item(depth + 1);
          if (typeof key === "string") out[key] = value;
        }
        return out;
      }
      case 6:
        // Tags carry no meaning in this protocol; decode the tagged item itself.
        this.argument(info);
        return this.item(depth + 1);
      default:
        return this.simple(info);
    }
  }

  simple(info: number): Decoded {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25: {
        this.need(2);
        this.pos += 2;
        return halfToNumber(this.view.getUint16(this.pos - 2));
      }
      case 26:
        this.need(4);
        this.pos += 4;
        return this.view.getFloat32(this.pos - 4);
      case 27:
        this.need(8);
        this.pos += 8;
        return this.view.getFloat64(this.pos - 8);
      default:
        if (info < 24) return undefined;
        throw new Malformed(`unsupported simple value ${info}`);
    }
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes exactly one CBOR item that must span all of `buf`. */
export function decodeCbor(buf: Uint8Array): Result<Decoded> {
  const reader = new Reader(buf);
  try {
    const value = reader.item(0);
    if (reader.pos !== buf.length) {
      return err(
        agentdError(ErrorCodes.BAD_ENVELOPE, `${buf.length - reader.pos} trailing bytes after CBOR item`),
      );
    }
    return ok(value);
  } catch (e) {
    const message = e instanceof Malformed ? e.message : `decoder failure: ${String(e)}`;
    return err(agentdError(ErrorCodes.BAD_ENVELOPE, `invalid CBOR: ${message}`));
  }
}
