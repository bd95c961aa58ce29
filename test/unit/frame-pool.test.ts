/**
 * Frame buffers: which inbound frames are pooled (a 1 MiB class; larger ones lent to be freed at
 * once), reuse, releases of data not lent, and the free buffers shared with the download pools.
 */
import { expect, test } from "bun:test";
import {
  allocFrame,
  CLASS_SIZE,
  framePoolState,
  LARGE_CLASS_SIZE,
  offerFree,
  POOLED_MIN,
  releaseFrameData,
  sharedFrameBuffers,
} from "../../src/agent/frame-pool.ts";
import { BufferPool } from "../../src/agent/fs/buffer-pool.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import { FS_CHUNK_SIZE, MAX_FRAME_SIZE } from "../../src/protocol/constants.ts";

test("frames in the pooled range share buffers once given back; others are plain", () => {
  const small = allocFrame(POOLED_MIN - 1);
  const beyond = allocFrame(LARGE_CLASS_SIZE + 1);
  expect(small.buffer.byteLength).toBe(POOLED_MIN - 1);
  expect(beyond.buffer.byteLength).toBe(LARGE_CLASS_SIZE + 1);
  releaseFrameData(small);
  releaseFrameData(beyond);
  expect(framePoolState().lent).toBe(0);

  const a = allocFrame(1 << 20);
  expect(a.length).toBe(1 << 20);
  expect(framePoolState().lent).toBe(1);
  const aBuffer = a.buffer;
  releaseFrameData(a.subarray(100, 200)); // any view into the frame gives it back
  expect(framePoolState().lent).toBe(0);
  const b = allocFrame(POOLED_MIN);
  expect(b.buffer).toBe(aBuffer);
  releaseFrameData(b);
  releaseFrameData(b); // not lent any more: nothing happens
  expect(framePoolState().lent).toBe(0);
  const c = allocFrame(POOLED_MIN);
  expect(c.buffer).toBe(aBuffer);
  releaseFrameData(c);
});

test("frames above the 1 MiB class, up to the protocol's largest, get a buffer of their own size, freed at once when given back", () => {
  const big = allocFrame(FS_CHUNK_SIZE + 64);
  expect(big.length).toBe(FS_CHUNK_SIZE + 64);
  expect(big.buffer.byteLength).toBe(FS_CHUNK_SIZE + 64); // its own size: no 4 MiB for a 3 MiB frame
  expect(LARGE_CLASS_SIZE).toBe(MAX_FRAME_SIZE + 4); // the largest frame, its length prefix included
  const largest = allocFrame(LARGE_CLASS_SIZE);
  expect(largest.buffer.byteLength).toBe(LARGE_CLASS_SIZE);
  expect(framePoolState().lent).toBe(2);
  const freeBefore = framePoolState().free;
  const buffers = [big, largest].map((f) => f.buffer as ArrayBuffer);
  for (const f of [big, largest]) releaseFrameData(f);
  // None kept (such frames are rare: large stdin and fs.data come in pieces): their memory goes
  // back to the allocator now, not at the next collection, and their data reads as empty.
  expect(framePoolState()).toMatchObject({ lent: 0, free: freeBefore });
  expect(buffers.map((b) => b.detached)).toEqual([true, true]);
  expect(big.length).toBe(0);
  releaseFrameData(big); // given back twice: nothing happens
  expect(framePoolState().lent).toBe(0);
});

test("stdin frames decoded through the pool keep their bytes until given back, and reuse after", () => {
  const d = new FrameDecoder(allocFrame);
  const data = (seed: number) => new Uint8Array(1 << 20).map((_, i) => (i * 7 + seed) & 0xff);
  const frames = [1, 2, 3].map((id) =>
    encodeFrame(id, { type: "core.exec.stdin", payload: { data: data(id) } }),
  );
  const got: Uint8Array[] = [];
  for (const f of frames) {
    // Delivered in 64 KiB pieces, as the port does: the frame is gathered in a pooled buffer.
    for (let at = 0; at < f.length; at += 65536) d.push(f.slice(at, at + 65536));
    for (let ev = d.next(); ev; ev = d.next())
      if (ev.kind === "frame" && ev.frame.type === "core.exec.stdin") got.push(ev.frame.payload.data);
  }
  expect(got.length).toBe(3);
  // All three lent at once: three different buffers, each with its own bytes.
  expect(new Set(got.map((g) => g.buffer)).size).toBe(3);
  got.forEach((g, i) => expect(Buffer.from(g).equals(Buffer.from(data(i + 1)))).toBe(true));
  const buffers = new Set(got.map((g) => g.buffer));
  for (const g of got) releaseFrameData(g);
  expect(framePoolState().lent).toBe(0);
  const again = allocFrame(1 << 20);
  expect(buffers.has(again.buffer)).toBe(true);
  releaseFrameData(again);
});

test("download read buffers come from the buffers an upload left, and go back to them", () => {
  // An upload's three frame buffers, given back: free, waiting for the idle trim.
  const upload = [allocFrame(1 << 20), allocFrame(1 << 20), allocFrame(1 << 20)];
  const uploadBuffers = new Set(upload.map((f) => f.buffer));
  for (const f of upload) releaseFrameData(f);
  expect(framePoolState().free).toBe(3);

  // A download right after reads into them instead of allocating beside them.
  const reads = new BufferPool(1 << 20, 3, 0, sharedFrameBuffers);
  const lent = [reads.tryTake()!, reads.tryTake()!, reads.tryTake()!];
  expect(lent.every((b) => b.length === 1 << 20 && uploadBuffers.has(b.buffer))).toBe(true);
  expect(framePoolState().free).toBe(0);
  // The fourth is over the pool's bound; the bound holds as before.
  expect(reads.tryTake()).toBeNull();

  // The stream over, the pool keeps none: they are the frame pool's free buffers again, and
  // the next upload frame is gathered in one of them.
  for (const b of lent) reads.give(b);
  expect(framePoolState().free).toBe(3);
  const next = allocFrame(1 << 20);
  expect(uploadBuffers.has(next.buffer)).toBe(true);
  releaseFrameData(next);
});

test("the frame pool takes back only whole frame buffers it does not hold, up to what it keeps", () => {
  const lentNow = allocFrame(1 << 20);
  const freeBefore = framePoolState().free;
  offerFree(new ArrayBuffer(1 << 20)); // not a frame buffer's size
  offerFree(lentNow.buffer as ArrayBuffer); // lent to a frame: not free
  expect(framePoolState().free).toBe(freeBefore);
  releaseFrameData(lentNow);
  for (let i = 0; i < 5; i++) offerFree(new ArrayBuffer(CLASS_SIZE));
  expect(framePoolState().free).toBe(3); // KEEP: the rest are left to the collector
});

test("a 1 MiB frame given back beyond the free buffers kept is freed at once", () => {
  while (framePoolState().free < 3) offerFree(new ArrayBuffer(CLASS_SIZE));
  const frames = Array.from({ length: 4 }, () => allocFrame(1 << 20));
  expect(framePoolState().free).toBe(0);
  for (const f of frames) releaseFrameData(f);
  expect(framePoolState().free).toBe(3);
  expect(frames.map((f) => (f.buffer as ArrayBuffer).detached)).toEqual([false, false, false, true]);
});
