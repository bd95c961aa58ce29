/** Inbound frame buffers: which frames are pooled, reuse, and releases of data not lent. */
import { expect, test } from "bun:test";
import {
  allocFrame,
  CLASS_SIZE,
  framePoolState,
  POOLED_MIN,
  releaseFrameData,
} from "../../src/agent/frame-pool.ts";
import { encodeFrame, FrameDecoder } from "../../src/protocol/frame.ts";

test("frames in the pooled range share buffers once given back; others are plain", () => {
  const small = allocFrame(POOLED_MIN - 1);
  const huge = allocFrame(CLASS_SIZE + 1);
  expect(small.buffer.byteLength).toBe(POOLED_MIN - 1);
  expect(huge.buffer.byteLength).toBe(CLASS_SIZE + 1);
  releaseFrameData(small);
  releaseFrameData(huge);
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
