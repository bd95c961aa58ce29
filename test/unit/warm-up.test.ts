/**
 * The port thread's warm-up (src/agent/port/warm-up.ts): its frames go through the real copy
 * loop (each a whole core.exec.stdout frame out of it), the main thread's stop ends it before its
 * next frame, and it leaves no descriptor open.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import {
  warmUpCopyPath,
  WARM_UP_FRAME_MAX,
  WARM_UP_FRAME_SIZE,
  WARM_UP_FRAMES,
  WARM_UP_ID,
} from "../../src/agent/port/warm-up.ts";

const openFds = () => readdirSync("/proc/self/fd").length;

test("warm-up frames go through the copy loop: whole core.exec.stdout frames out, bytes counted", () => {
  const before = openFds();
  const decoder = new FrameDecoder();
  const r = warmUpCopyPath(40, WARM_UP_FRAME_SIZE, new Int32Array(1), (bytes) => decoder.push(bytes.slice()));
  expect(openFds()).toBe(before);
  expect(r.frames).toBe(40);
  expect(r.bytes).toBe(40 * WARM_UP_FRAME_SIZE);
  const frames = [];
  for (let ev = decoder.next(); ev; ev = decoder.next()) frames.push(ev);
  expect(frames.length).toBe(40);
  for (const ev of frames) {
    expect(ev.kind).toBe("frame");
    if (ev.kind !== "frame") continue;
    expect(ev.frame.id).toBe(WARM_UP_ID);
    expect(ev.frame.type).toBe("core.exec.stdout");
    expect((ev.frame.payload as { data: Uint8Array }).data.length).toBe(WARM_UP_FRAME_SIZE);
  }
  expect(decoder.buffered).toBe(0);
  // Every byte out was a frame: the heads and the data, nothing else.
  expect(r.sent).toBeGreaterThan(r.bytes);
  expect(r.sent - r.bytes).toBeLessThan(40 * 64);
});

test("a stop already set ends the warm-up before its first frame, and nothing is left open", () => {
  const before = openFds();
  const stop = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(stop, 0, 1);
  expect(warmUpCopyPath(WARM_UP_FRAMES, WARM_UP_FRAME_SIZE, stop)).toEqual({ frames: 0, bytes: 0, sent: 0 });
  expect(openFds()).toBe(before);
});

test("frames larger than the sink pipe takes whole are refused before any descriptor is made", () => {
  const before = openFds();
  expect(() => warmUpCopyPath(4, WARM_UP_FRAME_MAX + 1, new Int32Array(1))).toThrow(/at most 32768/);
  expect(openFds()).toBe(before);
});
