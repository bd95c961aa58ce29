/**
 * The port thread's warm-up (src/agent/port/warm-up.ts): its frames go through the real copy
 * loop (each a whole core.exec.stdout frame in the sink), the main thread's stop ends it before
 * its next frame, and it leaves no descriptor open.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrameDecoder } from "../../src/protocol/frame.ts";
import { warmUpCopyPath, WARM_UP_ID } from "../../src/agent/port/warm-up.ts";

const openFds = () => readdirSync("/proc/self/fd").length;

test("warm-up frames go through the copy loop: whole core.exec.stdout frames in the sink, bytes counted", () => {
  const sink = join(mkdtempSync(join(tmpdir(), "warm-")), "sink");
  writeFileSync(sink, "");
  const before = openFds();
  const r = warmUpCopyPath(40, 16 * 1024, new Int32Array(1), sink);
  expect(openFds()).toBe(before);
  expect(r).toEqual({ frames: 40, bytes: 40 * 16 * 1024 });
  const decoder = new FrameDecoder();
  decoder.push(new Uint8Array(readFileSync(sink)));
  const frames = [];
  for (let ev = decoder.next(); ev; ev = decoder.next()) frames.push(ev);
  expect(frames.length).toBe(40);
  for (const ev of frames) {
    expect(ev.kind).toBe("frame");
    if (ev.kind !== "frame") continue;
    expect(ev.frame.id).toBe(WARM_UP_ID);
    expect(ev.frame.type).toBe("core.exec.stdout");
    expect((ev.frame.payload as { data: Uint8Array }).data.length).toBe(16 * 1024);
  }
  expect(decoder.buffered).toBe(0);
});

test("a stop already set ends the warm-up before its first frame, and nothing is left open", () => {
  const before = openFds();
  const stop = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(stop, 0, 1);
  expect(warmUpCopyPath(256, 16 * 1024, stop)).toEqual({ frames: 0, bytes: 0 });
  expect(openFds()).toBe(before);
});

test("a sink that cannot be opened is an error naming it, with the pipe closed", () => {
  const before = openFds();
  expect(() => warmUpCopyPath(4, 1024, new Int32Array(1), "/nonexistent/sink")).toThrow(/nonexistent/);
  expect(openFds()).toBe(before);
});
