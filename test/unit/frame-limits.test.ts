/** The frame layout byte by byte, the length limits, and every kind of bad input. */
import { describe, expect, test } from "bun:test";
import { ErrorCodes } from "../../src/errors.ts";
import { encodeCbor } from "../../src/protocol/cbor-encode.ts";
import { FRAME_HEADER_SIZE, MAX_FRAME_SIZE } from "../../src/protocol/constants.ts";
import {
  decodeBody,
  encodeFrame,
  OFFSET_BODY,
  OFFSET_FLAGS,
  OFFSET_ID,
  OFFSET_LEN,
  type DecodeEvent,
} from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import { frameOf } from "../support.ts";

function envelope(t: unknown, p: unknown, v: unknown = 1): Uint8Array {
  return encodeCbor({ v: v as number, t: t as string, p: p as Uint8Array });
}

function events(...chunks: Uint8Array[]): DecodeEvent[] {
  const d = new FrameDecoder();
  const out: DecodeEvent[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let ev = d.next(); ev; ev = d.next()) out.push(ev);
  }
  return out;
}

const ready = encodeFrame(0, {
  type: "core.ready",
  payload: { boot_time_ns: 1, init_time_ns: 2, ready_time_ns: 3 },
});

describe("frame layout", () => {
  const f = encodeFrame(0x01020304, { type: "core.exec.exited", payload: { code: 7 } });
  const view = new DataView(f.buffer, f.byteOffset, f.byteLength);
  test("len at offset 0 is a u32 BE counting id + flags + body", () => {
    expect(OFFSET_LEN).toBe(0);
    expect(view.getUint32(OFFSET_LEN)).toBe(f.length - 4);
  });
  test("id at offset 4 is a u32 BE", () => {
    expect(OFFSET_ID).toBe(4);
    expect(Array.from(f.subarray(4, 8))).toEqual([1, 2, 3, 4]);
  });
  test("flags at offset 8 carry TERMINAL for exec.exited", () => {
    expect(OFFSET_FLAGS).toBe(8);
    expect(f[8]).toBe(1);
  });
  test("the body at offset 9 is the {v,t,p} envelope with the payload double-encoded", () => {
    expect(OFFSET_BODY).toBe(9);
    expect(FRAME_HEADER_SIZE).toBe(5);
    expect(Buffer.from(f.subarray(9)).toString("hex")).toBe(
      "a3617601617470636f72652e657865632e6578697465646170" + "47a164636f646507",
    );
  });
  test("an exec.exited for a signal carries the extra signal key after code", () => {
    const g = encodeFrame(1, { type: "core.exec.exited", payload: { code: -1, signal: 9 } });
    const ev = events(g)[0]!;
    expect(ev.kind === "frame" && ev.frame.payload).toEqual({ code: -1, signal: 9 });
  });
});

describe("length limits", () => {
  test("a frame of exactly MAX_FRAME_SIZE is accepted", () => {
    let size = MAX_FRAME_SIZE - 64;
    let f = encodeFrame(9, { type: "core.fs.data", payload: { data: new Uint8Array(size) } });
    size += MAX_FRAME_SIZE - (f.length - 4);
    f = encodeFrame(9, { type: "core.fs.data", payload: { data: new Uint8Array(size) } });
    expect(f.length - 4).toBe(MAX_FRAME_SIZE);
    const ev = events(f);
    expect(ev.length).toBe(1);
    expect(ev[0]!.kind).toBe("frame");
  });

  test("a declared length above 4 MiB is skipped by its length, without allocating, and the next frame decodes", () => {
    const len = MAX_FRAME_SIZE + 1;
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint32(0, len);
    new DataView(header.buffer).setUint32(4, 77);
    const d = new FrameDecoder();
    d.push(header);
    const ev = d.next();
    expect(ev?.kind).toBe("skipped");
    if (ev?.kind === "skipped") {
      expect(ev.error.code).toBe(ErrorCodes.FRAME_TOO_LARGE);
      expect(ev.id).toBe(77);
    }
    // The rest of the oversized frame arrives in pieces and is dropped as it comes.
    let left = len - 4;
    while (left > 0) {
      const n = Math.min(left, 1 << 20);
      d.push(new Uint8Array(n));
      expect(d.next()).toBeNull();
      expect(d.buffered).toBe(0);
      left -= n;
    }
    d.push(ready);
    expect(d.next()?.kind).toBe("frame");
  });

  test("a declared length of 0xFFFFFFFF is skipped the same way", () => {
    const ev = events(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5));
    expect(ev[0]?.kind === "skipped" && ev[0].error.code).toBe(ErrorCodes.FRAME_TOO_LARGE);
  });

  test.each([0, 1, 4])(
    "a declared length of %d (below the header) is skipped and the next frame decodes",
    (len) => {
      const bad = new Uint8Array(4 + len);
      new DataView(bad.buffer).setUint32(0, len);
      const ev = events(bad, ready);
      expect(ev[0]?.kind === "skipped" && ev[0].error.code).toBe(ErrorCodes.FRAME_TOO_SHORT);
      expect(ev[1]?.kind).toBe("frame");
    },
  );
});

describe("bad bodies are reported with their id and the stream goes on", () => {
  const cases: [string, Uint8Array, string, string | null][] = [
    ["not CBOR (truncated)", Uint8Array.of(0xa3, 0x61), ErrorCodes.BAD_ENVELOPE, null],
    ["CBOR but not a map", encodeCbor([1, 2, 3]), ErrorCodes.BAD_ENVELOPE, null],
    [
      "trailing bytes",
      Uint8Array.of(...envelope("core.shutdown", new Uint8Array(0)), 0),
      ErrorCodes.BAD_ENVELOPE,
      null,
    ],
    ["unknown type", envelope("core.nope", new Uint8Array(0)), ErrorCodes.UNKNOWN_TYPE, null],
    ["t not text", envelope(5, new Uint8Array(0)), ErrorCodes.BAD_ENVELOPE, null],
    ["v missing", encodeCbor({ t: "core.shutdown", p: new Uint8Array(0) }), ErrorCodes.BAD_ENVELOPE, null],
    ["p not bytes", envelope("core.exec.signal", "x"), ErrorCodes.BAD_PAYLOAD, "core.exec.signal"],
    [
      "payload not CBOR",
      envelope("core.exec.request", Uint8Array.of(0xff)),
      ErrorCodes.BAD_PAYLOAD,
      "core.exec.request",
    ],
    [
      "payload missing cmd",
      envelope("core.exec.request", encodeCbor({ args: [] })),
      ErrorCodes.BAD_PAYLOAD,
      "core.exec.request",
    ],
    [
      "rows out of u16",
      envelope("core.exec.request", encodeCbor({ cmd: "x", rows: 70000 })),
      ErrorCodes.BAD_PAYLOAD,
      "core.exec.request",
    ],
    [
      "args not text",
      envelope("core.exec.request", encodeCbor({ cmd: "x", args: [1] })),
      ErrorCodes.BAD_PAYLOAD,
      "core.exec.request",
    ],
    [
      "unknown fs variant",
      envelope("core.fs.request", encodeCbor({ op: { Chmod: { path: "/" } } })),
      ErrorCodes.BAD_PAYLOAD,
      "core.fs.request",
    ],
    [
      "fs op without path",
      envelope("core.fs.request", encodeCbor({ op: { Stat: {} } })),
      ErrorCodes.BAD_PAYLOAD,
      "core.fs.request",
    ],
    [
      "stdin data as text",
      envelope("core.exec.stdin", encodeCbor({ data: "hi" })),
      ErrorCodes.BAD_PAYLOAD,
      "core.exec.stdin",
    ],
    [
      "signal as float",
      envelope(
        "core.exec.signal",
        Uint8Array.of(0xa1, 0x66, ...Buffer.from("signal"), 0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0),
      ),
      ErrorCodes.BAD_PAYLOAD,
      "core.exec.signal",
    ],
  ];
  test.each(cases)("%s", (_name, body, code, type) => {
    const ev = events(frameOf(42, 0, body), ready);
    expect(ev.length).toBe(2);
    const first = ev[0]!;
    expect(first.kind).toBe("invalid");
    if (first.kind === "invalid") {
      expect(first.id).toBe(42);
      expect(first.error.code).toBe(code as (typeof first.error)["code"]);
      expect(first.type).toBe(type as typeof first.type);
    }
    expect(ev[1]!.kind).toBe("frame");
  });

  test("a payload error names the field", () => {
    const ev = decodeBody(1, 2, envelope("core.exec.request", encodeCbor({ cmd: "x", rows: 70000 })));
    expect(ev.kind === "invalid" && ev.error.message).toContain("rows: expected u16, got 70000");
  });

  test("a v above 255 is accepted (ours)", () => {
    const ev = decodeBody(0, 4, envelope("core.shutdown", new Uint8Array(0), 100000));
    expect(ev.kind).toBe("frame");
  });

  test("unknown keys in a payload are ignored", () => {
    const ev = decodeBody(
      3,
      0,
      envelope("core.exec.signal", encodeCbor({ signal: 2, extra: [1, { a: 2 }] })),
    );
    expect(ev.kind === "frame" && ev.frame.payload).toEqual({ signal: 2 });
  });
});

describe("borrowed chunks (the port's shared inbox slot, reused after each push)", () => {
  test("pushBorrowed keeps no chunk-sized copy: only a length prefix not yet whole is kept", () => {
    const big = encodeFrame(1, {
      type: "core.exec.stdin",
      payload: { data: new Uint8Array(300_000).fill(7) },
    });
    const small = encodeFrame(2, { type: "core.exec.stdin", payload: { data: Uint8Array.of(1, 2, 3) } });
    // One chunk: the small frame whole, then the big frame's first 1000 bytes.
    const chunk = new Uint8Array(small.length + 1000);
    chunk.set(small);
    chunk.set(big.subarray(0, 1000), small.length);
    const allocs: number[] = [];
    const d = new FrameDecoder((n) => (allocs.push(n), new Uint8Array(n)));
    const first = d.pushBorrowed(chunk);
    expect(first.map((e) => (e.kind === "frame" ? e.frame.id : -1))).toEqual([2]);
    // Two buffers and no other copy: the small frame copied out of the chunk into its own, and
    // the big frame's own, with its first 1000 bytes already in it; nothing else held.
    expect(allocs).toEqual([small.length, big.length]);
    expect(d.buffered).toBe(1000);
    chunk.fill(0xee);
    const rest = d.pushBorrowed(big.subarray(1000, 1002));
    expect(rest).toEqual([]);
    // A length prefix cut after 2 bytes: those 2 bytes are all that is kept.
    const tail = d.pushBorrowed(Uint8Array.of(...big.subarray(1002), ...small.subarray(0, 2)));
    expect(tail.map((e) => (e.kind === "frame" ? e.frame.id : -1))).toEqual([1]);
    expect(d.buffered).toBe(2);
    const last = d.pushBorrowed(small.subarray(2));
    expect(last.map((e) => (e.kind === "frame" ? e.frame.id : -1))).toEqual([2]);
    const data =
      tail[0]!.kind === "frame" && tail[0]!.frame.type === "core.exec.stdin"
        ? tail[0]!.frame.payload.data
        : null;
    expect(data?.length).toBe(300_000);
    expect(data?.every((b) => b === 7)).toBe(true);
  });

  test("frames of every size come out intact although the lent buffer is overwritten after each push", () => {
    const sizes = [0, 1, 100, 70_000, 1 << 20, 5, 200_000];
    const stream: Uint8Array[] = [];
    sizes.forEach((n, i) => {
      const data = new Uint8Array(n).map((_, j) => (j * 31 + i) & 0xff);
      stream.push(encodeFrame(i + 1, { type: "core.exec.stdin", payload: { data } }));
    });
    const all = new Uint8Array(stream.reduce((a, f) => a + f.length, 0));
    let at = 0;
    for (const f of stream) (all.set(f, at), (at += f.length));

    // One slot, as the port link uses it: filled, lent, then scribbled over by the next read.
    for (const slotSize of [1, 3, 7, 4096, 65_536, 262_144, 2 << 20]) {
      const slot = new Uint8Array(slotSize);
      const d = new FrameDecoder();
      const got: DecodeEvent[] = [];
      for (let off = 0; off < all.length; off += slotSize) {
        const n = Math.min(slotSize, all.length - off);
        slot.set(all.subarray(off, off + n));
        got.push(...d.pushBorrowed(slot.subarray(0, n)));
        slot.fill(0xee);
      }
      expect(d.buffered).toBe(0);
      expect(got.map((e) => (e.kind === "frame" ? e.frame.id : -1))).toEqual(sizes.map((_, i) => i + 1));
      got.forEach((e, i) => {
        if (e.kind !== "frame" || e.frame.type !== "core.exec.stdin") throw new Error("not stdin");
        const data = e.frame.payload.data;
        expect(data.length).toBe(sizes[i]!);
        expect(data.every((b, j) => b === ((j * 31 + i) & 0xff))).toBe(true);
      });
    }
  });
});

test("integer fields hold their exact ranges: u16, u32 and i32 at and past each bound, fractions and BigInts", async () => {
  const { decodePayload } = await import("../../src/protocol/payload-decode.ts");
  const ok = (t: Parameters<typeof decodePayload>[0], v: Record<string, unknown>) =>
    decodePayload(t, v as never).ok;
  expect(ok("core.exec.resize", { rows: 65535, cols: 0 })).toBe(true);
  expect(ok("core.exec.resize", { rows: 65536, cols: 0 })).toBe(false);
  expect(ok("core.exec.resize", { rows: -1, cols: 0 })).toBe(false);
  expect(ok("core.exec.resize", { rows: 1.5, cols: 0 })).toBe(false);
  expect(ok("core.exec.started", { pid: 4294967295 })).toBe(true);
  expect(ok("core.exec.started", { pid: 4294967296 })).toBe(false);
  expect(ok("core.exec.started", { pid: 2n ** 60n })).toBe(false);
  expect(ok("core.exec.signal", { signal: -(2 ** 31) })).toBe(true);
  expect(ok("core.exec.signal", { signal: 2 ** 31 - 1 })).toBe(true);
  expect(ok("core.exec.signal", { signal: 2 ** 31 })).toBe(false);
  expect(ok("core.exec.signal", { signal: -(2 ** 31) - 1 })).toBe(false);
  expect(ok("core.exec.signal", { signal: "9" })).toBe(false);
});
