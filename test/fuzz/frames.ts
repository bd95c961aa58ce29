/**
 * Hostile frames for the fuzz harness, from a seeded generator (the same seed gives the same
 * frames): random bytes, golden vectors mutated (bit flips, truncation, wrong and huge declared
 * lengths, swapped message types, payloads of the wrong shape), and well-formed frames of every
 * host→guest type with random values. Pure.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeCbor, type CborValue } from "../../src/protocol/cbor-encode.ts";
import { decodeBody } from "../../src/protocol/frame.ts";
import { MESSAGE_SPECS } from "../../src/protocol/messages.ts";

export type Rng = () => number;

/** mulberry32: small, fast, good enough to spread mutations. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;

export function loadVectors(dir: string): Uint8Array[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".hex"))
    .sort()
    .map((f) => Uint8Array.from(Buffer.from(readFileSync(join(dir, f), "utf8").trim(), "hex")));
}

function frame(id: number, flags: number, body: Uint8Array, declared = body.length + 5): Uint8Array {
  const out = new Uint8Array(9 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, declared >>> 0);
  v.setUint32(4, id >>> 0);
  out[8] = flags;
  out.set(body, 9);
  return out;
}

function randomValue(r: Rng, depth = 0): CborValue {
  switch (int(r, depth > 2 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return int(r, 3) === 0 ? -int(r, 1 << 30) : int(r, 2 ** 31);
    case 3:
      return pick(r, ["", "sh", "/bin/true", "x".repeat(int(r, 300)), "\u00ff\u4e2d", "/tmp/fuzz"]);
    case 4:
      return new Uint8Array(int(r, 64)).map(() => int(r, 256));
    case 5:
      return BigInt(int(r, 2 ** 31)) * 2n ** 33n;
    case 6:
      return Array.from({ length: int(r, 4) }, () => randomValue(r, depth + 1));
    default: {
      const keys = [
        "cmd",
        "args",
        "env",
        "tty",
        "rows",
        "op",
        "path",
        "data",
        "signal",
        "mode",
        "Stat",
        "Write",
        "rlimits",
        "user",
      ];
      const o: Record<string, CborValue> = {};
      for (let i = int(r, 5); i > 0; i--) o[pick(r, keys)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

const HOST_TYPES = Object.entries(MESSAGE_SPECS)
  .filter(([, s]) => s.from !== "guest")
  .map(([t]) => t);
const ALL_TYPES = Object.keys(MESSAGE_SPECS);

/** Hostile frames never run a real command: any exec request's cmd is one that does not exist. */
function defang(bytes: Uint8Array): Uint8Array {
  const s = Buffer.from(bytes);
  for (const name of ["/bin/sh", "true"]) {
    let at = s.indexOf(name);
    while (at >= 0) {
      s.fill(0x71 /* q */, at + 1, at + name.length);
      at = s.indexOf(name, at + 1);
    }
  }
  return new Uint8Array(s);
}

/** A frame that would stop the agent under test is not hostile input, it is a command. */
function isShutdown(f: Uint8Array): boolean {
  if (f.length < 9) return false;
  const len = new DataView(f.buffer, f.byteOffset).getUint32(0);
  if (len !== f.length - 4) return false;
  const ev = decodeBody(0, f[8]!, f.subarray(9));
  return ev.kind === "frame" && ev.frame.type === "core.shutdown";
}

/** Yields the frames; returns how many were withheld because they would shut the agent down. */
export function* hostileFrames(
  seed: number,
  count: number,
  vectors: readonly Uint8Array[],
): Generator<Uint8Array, number> {
  let withheld = 0;
  for (const f of generate(seed, count, vectors)) {
    if (isShutdown(f)) withheld++;
    else yield f;
  }
  return withheld;
}

function* generate(seed: number, count: number, vectors: readonly Uint8Array[]): Generator<Uint8Array> {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const kind = int(r, 8);
    const id = int(r, 1000) + 10_000;
    if (r() < LARGE_DATA_RATE) {
      yield largeData(r, id);
      continue;
    }
    if (kind === 0) {
      const junk = new Uint8Array(int(r, 60) + 4).map(() => int(r, 256));
      // Mostly a small declared length (the stream stays in step); now and then any length.
      if (r() < 0.95) new DataView(junk.buffer).setUint32(0, int(r, 64));
      yield junk;
    } else if (kind === 1) {
      const v = new Uint8Array(pick(r, vectors));
      for (let f = int(r, 4) + 1; f > 0; f--) {
        const at = 9 + int(r, v.length - 9);
        v[at] = v[at]! ^ (1 << int(r, 8));
      }
      yield defang(v);
    } else if (kind === 2) {
      const v = pick(r, vectors);
      const cut = int(r, v.length - 9) + 9;
      // Truncated body with the length fixed up, so framing stays intact.
      yield frame(id, v[8]!, defang(v.subarray(9, cut)));
    } else if (kind === 3) {
      const v = pick(r, vectors);
      const huge = r() < 0.05 ? pick(r, [0xffffffff, 64 * 1024 * 1024]) : null;
      yield frame(
        id,
        v[8]!,
        defang(v.subarray(9)),
        huge ?? pick(r, [0, 1, 4, v.length - 4, v.length + 1000, 4 * 1024 * 1024 + 1]),
      );
    } else if (kind === 4) {
      const t = pick(r, ALL_TYPES);
      yield frame(id, 0, encodeCbor({ v: int(r, 3) === 0 ? 2 ** 40 : 1, t, p: encodeCbor(randomValue(r)) }));
    } else if (kind === 5) {
      yield frame(
        id,
        int(r, 256),
        encodeCbor({
          v: 1,
          t: pick(r, ["core.bogus", "", "core.exec", "x".repeat(200)]),
          p: new Uint8Array(0),
        }),
      );
    } else if (kind === 6) {
      yield frame(id, 0, encodeCbor(randomValue(r)));
    } else {
      const t = pick(r, HOST_TYPES);
      const p = t === "core.shutdown" ? { cmd: "nope" } : randomValue(r);
      yield frame(
        id,
        0,
        encodeCbor({ v: 1, t: t === "core.shutdown" ? "core.exec.signal" : t, p: encodeCbor(p) }),
      );
    }
  }
}

/** One frame in this many is a stdin or fs.data frame of 1-4 MiB (the decoder's pieces). */
const LARGE_DATA_RATE = 1 / 2000;

/**
 * A data frame large enough to be handed on in pieces (FrameDecoder's pieceSize), often with a
 * bit of its head flipped (a prefix that almost qualifies) or a declared length a little off.
 */
function largeData(r: Rng, id: number): Uint8Array {
  const data = new Uint8Array(1024 * 1024 + int(r, 3 * 1024 * 1024 - 64)).fill(int(r, 256));
  const t = pick(r, ["core.exec.stdin", "core.fs.data"]);
  const f = frame(id, 0, encodeCbor({ v: 1, t, p: encodeCbor({ data }) }));
  const roll = r();
  if (roll < 0.4) {
    const at = 9 + int(r, 40);
    f[at] = f[at]! ^ (1 << int(r, 8));
  } else if (roll < 0.6) {
    const v = new DataView(f.buffer);
    v.setUint32(0, v.getUint32(0) + pick(r, [-1, 1, -4096, 4096]));
  }
  return f;
}

/** Frames whose declared length runs past this end the batch instead of being padded. */
export const PAD_LIMIT = 8 * 1024 * 1024;

/**
 * What to send for a hostile frame so the stream stays in step for the next one: the bytes the
 * declared length covers (padded with zeros when it claims more than there is, up to PAD_LIMIT).
 * `endsBatch` when the claim is too large to pad: the agent skips it, and the rest of this
 * connection with it, which the harness answers by reconnecting.
 */
export function inStep(f: Uint8Array): { parts: Uint8Array[]; endsBatch: boolean } {
  if (f.length < 4) return { parts: [f], endsBatch: true };
  const declared = new DataView(f.buffer, f.byteOffset).getUint32(0);
  const actual = f.length - 4;
  if (declared <= actual) return { parts: [f.subarray(0, 4 + declared)], endsBatch: false };
  if (declared - actual > PAD_LIMIT) return { parts: [f], endsBatch: true };
  return { parts: [f, new Uint8Array(declared - actual)], endsBatch: false };
}
