/**
 * Large data frames handed on in pieces as they arrive (FrameDecoder's `pieceSize`,
 * protocol/data-prefix.ts): which frames qualify, that pieces put together are exactly the frame a
 * whole decode gives, and that no buffer larger than a piece is taken for them; with `views` (the
 * host's client), that pieces are the arriving chunks themselves and never pin much more memory.
 */
import { expect, test } from "bun:test";
import { encodeCbor } from "../../src/protocol/cbor-encode.ts";
import { NEED_MORE, OUTBOUND_DATA_TYPES, parseDataPrefix } from "../../src/protocol/data-prefix.ts";
import { decodeBody, encodeFrame, OFFSET_BODY, type DecodeEvent } from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import type { Frame, Message } from "../../src/protocol/payloads.ts";
import { frameOf } from "../support.ts";
import { loadVectors } from "./vectors.ts";

const MiB = 1024 * 1024;

const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const stdin = (id: number, data: Uint8Array) =>
  encodeFrame(id, { type: "core.exec.stdin", payload: { data } } as Message);
const fsData = (id: number, data: Uint8Array) => encodeFrame(id, { type: "core.fs.data", payload: { data } });
const stdout = (id: number, data: Uint8Array) =>
  encodeFrame(id, { type: "core.exec.stdout", payload: { data } });
/** The host client's decoder: the guest's data frames above `above` bytes, as views of the chunks. */
const hostDecoder = (above: number, alloc?: (n: number) => Uint8Array) =>
  new FrameDecoder(alloc, above, { streamed: OUTBOUND_DATA_TYPES, views: true });
const dataOf = (e: DecodeEvent) =>
  e.kind === "frame" ? (e.frame.payload as { data: Uint8Array }).data : null;

/**
 * Feeds `bytes` in chunks of `size` (push, or pushBorrowed from one reused buffer; `borrowed` may
 * choose per chunk) and collects events.
 */
function decode(
  d: FrameDecoder,
  bytes: Uint8Array,
  size: number,
  borrowed: boolean | (() => boolean) = false,
): DecodeEvent[] {
  const out: DecodeEvent[] = [];
  const lent = new Uint8Array(size);
  for (let at = 0; at < bytes.length; at += size) {
    const piece = bytes.subarray(at, at + size);
    if (typeof borrowed === "function" ? borrowed() : borrowed) {
      lent.set(piece);
      out.push(...d.pushBorrowed(lent.subarray(0, piece.length)));
      lent.fill(0xee); // the slot is reused for the next read: nothing may point into it
    } else {
      d.push(piece.slice());
      for (let ev = d.next(); ev; ev = d.next()) out.push(ev);
    }
  }
  return out;
}

/** Puts pieces back together: one event per frame, as a whole decode gives. */
function joinPieces(events: DecodeEvent[]): DecodeEvent[] {
  const out: DecodeEvent[] = [];
  let parts: Uint8Array[] = [];
  for (const ev of events) {
    if (ev.kind !== "frame" || ev.more === undefined) {
      expect(parts).toEqual([]); // nothing comes between the pieces of one frame
      out.push(ev);
      continue;
    }
    parts.push((ev.frame.payload as { data: Uint8Array }).data);
    if (ev.more) continue;
    const data = Buffer.concat(parts);
    parts = [];
    out.push({ kind: "frame", frame: { ...ev.frame, payload: { data: new Uint8Array(data) } } as Frame });
  }
  expect(parts).toEqual([]);
  return out;
}

test("the Rust host's stdin and fs.data frames are of the data form; its other frames are not", () => {
  const vectors = loadVectors();
  for (const v of vectors) {
    const body = v.bytes.subarray(OFFSET_BODY);
    const prefix = parseDataPrefix(body, body.length);
    const isData = (v.type === "core.exec.stdin" || v.type === "core.fs.data") && !v.file.includes("eof");
    if (!isData) {
      // An empty chunk is of the form too, with no data; the decoder streams only data above a piece.
      if (v.file.includes("eof")) expect(prefix).toMatchObject({ type: v.type, dataLength: 0 });
      else expect(prefix).toBeNull();
      continue;
    }
    const whole = decodeBody(v.id, v.flags, body);
    const data = whole.kind === "frame" ? (whole.frame.payload as { data: Uint8Array }).data : null;
    expect(data!.length).toBeGreaterThan(0);
    expect(prefix).toEqual({
      type: v.type as "core.exec.stdin",
      length: body.length - data!.length,
      dataLength: data!.length,
    });
    // The data is the body's tail.
    expect(Buffer.from(body.subarray(body.length - data!.length)).equals(Buffer.from(data!))).toBe(true);
    // Each truncation of the prefix is "not yet", never a wrong answer.
    for (let n = 0; n < (prefix as { length: number }).length; n++)
      expect(parseDataPrefix(body.subarray(0, n), body.length)).toBe(NEED_MORE);
  }
});

test("for the host's reader the guest's stdout, stderr and fs.data frames are of the data form, and stdin is not", () => {
  for (const v of loadVectors()) {
    const body = v.bytes.subarray(OFFSET_BODY);
    const prefix = parseDataPrefix(body, body.length, OUTBOUND_DATA_TYPES);
    if (!["core.exec.stdout", "core.exec.stderr", "core.fs.data"].includes(v.type)) {
      expect(prefix).toBeNull();
      continue;
    }
    const whole = decodeBody(v.id, v.flags, body);
    const data = dataOf(whole)!;
    expect(prefix).toEqual({
      type: v.type as "core.exec.stdout",
      length: body.length - data.length,
      dataLength: data.length,
    });
  }
  // And the default (agentd's) reader does not take the guest's stdout apart.
  const out = stdout(1, pattern(10, 1)).subarray(OFFSET_BODY);
  expect(parseDataPrefix(out, out.length)).toBeNull();
});

test("wide heads are the data form too; other keys, orders, types and lengths are not", () => {
  const data = pattern(40, 1);
  const envelope = (p: Uint8Array, extra: Record<string, unknown> = {}) =>
    encodeCbor({ v: 1, t: "core.fs.data", p, ...extra } as never);
  const canonical = envelope(encodeCbor({ data }));
  expect(parseDataPrefix(canonical, canonical.length)).toMatchObject({ dataLength: 40 });
  // v and the data's length in 8 and 4 bytes: valid CBOR the whole decoder accepts.
  const wide = Uint8Array.from([
    0xa3,
    0x61,
    0x76,
    0x1b,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    7,
    0x61,
    0x74,
    0x6c,
    ...new TextEncoder().encode("core.fs.data"),
    0x61,
    0x70,
    0x5a,
    0,
    0,
    0,
    6 + 5 + 40,
    0xa1,
    0x64,
    0x64,
    0x61,
    0x74,
    0x61,
    0x5a,
    0,
    0,
    0,
    40,
    ...data,
  ]);
  expect(parseDataPrefix(wide, wide.length)).toEqual({
    type: "core.fs.data",
    length: wide.length - 40,
    dataLength: 40,
  });
  // ...and the whole-frame decoder takes it too, to the same data.
  const whole = decodeBody(1, 0, wide);
  expect(whole.kind === "frame" && whole.frame.type).toBe("core.fs.data");
  expect(whole.kind === "frame" && (whole.frame.payload as { data: Uint8Array }).data).toEqual(data);
  const not = [
    envelope(encodeCbor({ data, more: 1 })), // a second payload key
    envelope(encodeCbor({ data }), { x: 1 }), // a fourth envelope key (then a3 is a4)
    encodeCbor({ t: "core.fs.data", v: 1, p: encodeCbor({ data }) }), // keys reordered
    encodeCbor({ v: 1, t: "core.exec.stdout", p: encodeCbor({ data }) }), // the guest's type
    encodeCbor({ v: 1, t: "core.exec.request", p: encodeCbor({ cmd: "x" }) }),
  ];
  for (const body of not) expect(parseDataPrefix(body, body.length)).toBeNull();
  // Lengths that do not end where the body ends: bytes after the data, or a body cut short.
  expect(parseDataPrefix(canonical, canonical.length + 1)).toBeNull();
  expect(parseDataPrefix(canonical, canonical.length - 1)).toBeNull();
});

test("a 3 MiB fs.data frame arriving in 64 KiB reads is handed on in 1 MiB pieces as it arrives, no buffer larger than a piece", () => {
  const sizes: number[] = [];
  const d = new FrameDecoder((n) => (sizes.push(n), new Uint8Array(n)), MiB);
  const data = pattern(3 * MiB, 7);
  const frame = fsData(42, data);
  const arrivedAt: number[] = [];
  const events: DecodeEvent[] = [];
  for (let at = 0; at < frame.length; at += 65536) {
    d.push(frame.slice(at, at + 65536));
    for (let ev = d.next(); ev; ev = d.next()) {
      events.push(ev);
      arrivedAt.push(Math.min(at + 65536, frame.length));
    }
  }
  expect(events.map((e) => e.kind === "frame" && [e.frame.id, e.frame.type, e.frame.flags, e.more])).toEqual([
    [42, "core.fs.data", 0, true],
    [42, "core.fs.data", 0, true],
    [42, "core.fs.data", 0, false],
  ]);
  // Each piece as soon as its bytes are in, not at the frame's end.
  expect(arrivedAt[0]).toBeLessThan(MiB + 65536 + 64);
  expect(arrivedAt[1]).toBeLessThan(2 * MiB + 65536 + 64);
  expect(Math.max(...sizes)).toBe(MiB);
  expect(d.buffered).toBe(0);
  const got = Buffer.concat(
    events.map((e) =>
      e.kind === "frame" ? (e.frame.payload as { data: Uint8Array }).data : new Uint8Array(0),
    ),
  );
  expect(got.equals(Buffer.from(data))).toBe(true);
});

test("pieces from a lent slot (pushBorrowed) keep their bytes after the slot is reused; a 3.5 MiB stdin frame gives 1+1+1+0.5 MiB", () => {
  const d = new FrameDecoder(undefined, MiB);
  const data = pattern(3.5 * MiB, 3);
  const next = stdin(9, pattern(100, 5));
  const bytes = Buffer.concat([stdin(8, data), next]);
  const events = decode(d, new Uint8Array(bytes), 256 * 1024, true);
  expect(
    events.map(
      (e) =>
        e.kind === "frame" && [e.frame.id, (e.frame.payload as { data: Uint8Array }).data.length, e.more],
    ),
  ).toEqual([
    [8, MiB, true],
    [8, MiB, true],
    [8, MiB, true],
    [8, MiB / 2, false],
    [9, 100, undefined], // the frame after it, small, decodes whole as before
  ]);
  const joined = joinPieces(events);
  expect(
    Buffer.from((joined[0] as { frame: { payload: { data: Uint8Array } } }).frame.payload.data).equals(
      Buffer.from(data),
    ),
  ).toBe(true);
});

test("a data frame over a piece with data of at most one goes as one piece; large frames not of the data form decode whole", () => {
  const d = new FrameDecoder(undefined, 1000);
  const exact = stdin(1, pattern(1000, 1));
  const request = encodeFrame(2, {
    type: "core.exec.request",
    payload: { cmd: "x".repeat(5000) },
  } as Message);
  const extraKey = frameOf(
    3,
    0,
    encodeCbor({ v: 1, t: "core.fs.data", p: encodeCbor({ data: pattern(3000, 2), x: 1 }) } as never),
  );
  const trailing = frameOf(4, 0, new Uint8Array([...fsData(0, pattern(3000, 4)).subarray(OFFSET_BODY), 0]));
  const whole = new FrameDecoder();
  const bytes = new Uint8Array(Buffer.concat([exact, request, extraKey, trailing]));
  const got = decode(d, bytes, 333);
  expect(got.map((e) => (e.kind === "frame" ? e.more : e.kind))).toEqual([
    false,
    undefined,
    undefined,
    "invalid",
  ]);
  // The same events as a whole decode, but for the piece's `more` (false: nothing follows).
  const unpieced = (events: DecodeEvent[]) =>
    events.map((e) => (e.kind === "frame" ? { ...e, more: undefined } : e));
  expect(unpieced(got)).toEqual(unpieced(decode(whole, bytes, 333)));
});

/** xorshift32: the same frames and cuts on every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test("pieces put together equal a whole decode, for 400 random mixes of frames cut at random places", () => {
  const rand = rng(0x5eed1);
  const int = (n: number) => Math.floor(rand() * n);
  for (let round = 0; round < 400; round++) {
    const frames: Uint8Array[] = [];
    for (let i = int(6) + 1; i > 0; i--) {
      const data = pattern(int(5000), round + i);
      const kind = int(6);
      if (kind === 0) frames.push(stdin(round * 10 + i, data));
      else if (kind === 1) frames.push(fsData(round * 10 + i, data));
      else if (kind === 2) frames.push(encodeFrame(i, { type: "core.exec.stdout", payload: { data } }));
      else if (kind === 3)
        frames.push(
          frameOf(
            i,
            int(8),
            encodeCbor({ v: int(300), t: "core.fs.data", p: encodeCbor({ data }) } as never),
          ),
        );
      else if (kind === 4)
        frames.push(
          frameOf(i, 0, fsData(i, data).subarray(OFFSET_BODY, OFFSET_BODY + int(data.length + 20))),
        );
      else frames.push(encodeFrame(i, { type: "core.exec.signal", payload: { signal: int(30) } }));
    }
    const bytes = new Uint8Array(Buffer.concat(frames));
    const cut = 1 + int(round % 5 === 0 ? 8 : 3000);
    const pieceSize = 1 + int(2000);
    const whole = decode(new FrameDecoder(), bytes, cut);
    const pieces = decode(new FrameDecoder(undefined, pieceSize), bytes, cut, round % 2 === 0);
    expect(
      pieces.every(
        (e) =>
          e.kind !== "frame" ||
          e.more === undefined ||
          (e.frame.payload as { data: Uint8Array }).data.length <= pieceSize,
      ),
    ).toBe(true);
    expect(joinPieces(pieces)).toEqual(whole);
  }
});

test("views: 256 KiB stdout frames arriving in socket-sized chunks reach the consumer as the chunks themselves, with no buffer per frame", () => {
  const allocs: number[] = [];
  const d = hostDecoder(64 * 1024, (n) => (allocs.push(n), new Uint8Array(n)));
  const frames = Array.from({ length: 8 }, (_, i) => stdout(5, pattern(256 * 1024, i)));
  const bytes = new Uint8Array(Buffer.concat(frames));
  const chunks: Uint8Array[] = [];
  const events: DecodeEvent[] = [];
  for (let at = 0; at < bytes.length; at += 225_650) {
    const chunk = bytes.slice(at, at + 225_650); // a fresh buffer per read, as a socket's
    chunks.push(chunk);
    d.push(chunk);
    for (let ev = d.next(); ev; ev = d.next()) events.push(ev);
  }
  let viewed = 0;
  for (const e of events) {
    const data = dataOf(e)!;
    expect(e.kind === "frame" && e.more !== undefined).toBe(true); // every frame went in pieces
    const chunk = chunks.find((c) => c.buffer === data.buffer);
    // A view of the chunk it arrived in, or a copy of less than half a chunk (see below).
    if (chunk) viewed += data.length;
    else expect(data.length * 2).toBeLessThan(225_650);
  }
  expect(viewed).toBeGreaterThan(0.75 * 8 * 256 * 1024);
  expect(Math.max(...allocs)).toBeLessThan(225_650 / 2);
  expect(d.buffered).toBe(0);
  expect(joinPieces(events).map((e) => Buffer.from(dataOf(e)!))).toEqual(
    frames.map((f, i) => Buffer.from(pattern(256 * 1024, i))),
  );
});

test("views: a small frame or piece is copied out of a large chunk, so what a consumer holds pins at most twice its bytes", () => {
  const d = hostDecoder(1000);
  const small = stdout(1, pattern(100, 1));
  const large = stdout(2, pattern(300_000, 2));
  const exited = encodeFrame(1, { type: "core.exec.exited", payload: { code: 0 } });
  const chunk = new Uint8Array(Buffer.concat([small, exited, large.subarray(0, 200_000)]));
  d.push(chunk);
  const got: DecodeEvent[] = [];
  for (let ev = d.next(); ev; ev = d.next()) got.push(ev);
  const tail = large.slice(200_000);
  d.push(tail);
  for (let ev = d.next(); ev; ev = d.next()) got.push(ev);
  expect(
    got.map((e) => e.kind === "frame" && [e.frame.id, e.frame.type, dataOf(e)?.length ?? null, e.more]),
  ).toEqual([
    [1, "core.exec.stdout", 100, undefined],
    [1, "core.exec.exited", null, undefined],
    [2, "core.exec.stdout", 200_000 - (large.length - 300_000), true],
    [2, "core.exec.stdout", tail.length, false],
  ]);
  // The 100 bytes are not a view of the 200 KiB chunk; the large piece and the tail are views.
  expect(dataOf(got[0]!)!.buffer).not.toBe(chunk.buffer);
  expect(dataOf(got[2]!)!.buffer).toBe(chunk.buffer);
  expect(dataOf(got[3]!)!.buffer).toBe(tail.buffer);
  expect(Buffer.from(dataOf(got[0]!)!)).toEqual(Buffer.from(pattern(100, 1)));
});

test("views: pieces put together equal a whole decode for 400 random mixes of the guest's frames, pushed, lent or both", () => {
  const rand = rng(0x71e35);
  const int = (n: number) => Math.floor(rand() * n);
  for (let round = 0; round < 400; round++) {
    const frames: Uint8Array[] = [];
    for (let i = int(6) + 1; i > 0; i--) {
      const data = pattern(int(5000), round + i);
      const kind = int(5);
      if (kind === 0) frames.push(stdout(i, data));
      else if (kind === 1) frames.push(encodeFrame(i, { type: "core.exec.stderr", payload: { data } }));
      else if (kind === 2) frames.push(fsData(i, data));
      else if (kind === 3)
        frames.push(stdin(i, data)); // not the guest's: decoded whole
      else
        frames.push(
          frameOf(i, 0, fsData(i, data).subarray(OFFSET_BODY, OFFSET_BODY + int(data.length + 20))),
        );
    }
    const bytes = new Uint8Array(Buffer.concat(frames));
    const cut = 1 + int(round % 5 === 0 ? 8 : 3000);
    const whole = decode(new FrameDecoder(), bytes, cut);
    // Lent chunks (pushBorrowed) are never viewed: the slot's reuse would show in the bytes. Every
    // third round lends all chunks, every third lends some (a piece begun lent ends as a copy).
    const lend = round % 3 === 0 ? true : round % 3 === 1 ? () => rand() < 0.5 : false;
    const pieces = decode(hostDecoder(int(2000)), bytes, cut, lend);
    expect(
      pieces.some((e) => e.kind === "frame" && e.more !== undefined && e.frame.type === "core.exec.stdin"),
    ).toBe(false);
    expect(joinPieces(pieces)).toEqual(whole);
  }
});

test("a frame shorter than the data prefix's window, its body cut inside the prefix or empty, decodes whole at once", () => {
  const cutShort = frameOf(1, 0, fsData(1, pattern(50, 1)).subarray(OFFSET_BODY, OFFSET_BODY + 10));
  const empty = frameOf(2, 0, new Uint8Array(0));
  const after = encodeFrame(3, { type: "core.exec.signal", payload: { signal: 2 } });
  const bytes = new Uint8Array(Buffer.concat([cutShort, empty, after]));
  const whole = decode(new FrameDecoder(), bytes, bytes.length);
  expect(whole.map((e) => e.kind)).toEqual(["invalid", "invalid", "frame"]);
  // Before, a decoder streaming frames above 4 bytes waited for prefix bytes that could not come.
  expect(decode(new FrameDecoder(undefined, 4), bytes, bytes.length)).toEqual(whole);
  expect(decode(hostDecoder(4), bytes, bytes.length)).toEqual(whole);
});
