/**
 * The port thread's copy loop (src/agent/port/copy-loop.ts) on real pipes: a child's output pipe
 * in, a pipe standing in for the port out. Each chunk written to the source comes out as one whole
 * core.exec.stdout frame of the session, and the copy table counts the bytes.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import { CopyLoop } from "../../src/agent/port/copy-loop.ts";
import { bytesCopied, newCopyTable, setCopiesUsed, startCopy } from "../../src/agent/port/copy-table.ts";
import { CONTROL_WORDS } from "../../src/agent/port/port-lock.ts";
import { readFd, wakePipe, writeFd } from "../../src/sys/fd-io.ts";
import { closeFd } from "../../src/sys/libc.ts";

const openFds = () => readdirSync("/proc/self/fd").length;
const SESSION = 7;
/** Frame data at most: small enough that the sink pipe (64 KiB) takes a whole frame at once. */
const FRAME_MAX = 32 * 1024;

test("each chunk of a child's pipe goes out as one whole core.exec.stdout frame, its bytes counted", () => {
  const before = openFds();
  const [source, sourceIn] = wakePipe();
  const [sinkOut, sink] = wakePipe();
  const decoder = new FrameDecoder();
  const chunks = 40;
  const size = 16 * 1024;
  let sent = 0;
  let bytes = 0;
  try {
    const table = new Int32Array(newCopyTable());
    const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    const loop = new CopyLoop(sink, table, control, { ended: () => {}, portFree: () => {} }, FRAME_MAX);
    startCopy(table, 0, source, SESSION, "core.exec.stdout", 0);
    setCopiesUsed(table, 1);
    const out = new Uint8Array(FRAME_MAX + 1024);
    for (let i = 0; i < chunks; i++) {
      expect(writeFd(sourceIn, new Uint8Array(size).fill(i), "source")).toBe(size);
      expect(loop.collect()).toBe(1);
      loop.copyFrom(0);
      expect(loop.pending).toBe(false);
      for (let n = readFd(sinkOut, out, "sink"); n > 0; n = readFd(sinkOut, out, "sink")) {
        sent += n;
        decoder.push(out.slice(0, n));
      }
    }
    bytes = bytesCopied(table, 0);
  } finally {
    for (const fd of [source, sourceIn, sinkOut, sink]) closeFd(fd);
  }
  expect(openFds()).toBe(before);
  expect(bytes).toBe(chunks * size);
  const frames = [];
  for (let ev = decoder.next(); ev; ev = decoder.next()) frames.push(ev);
  expect(frames.length).toBe(chunks);
  frames.forEach((ev, i) => {
    expect(ev.kind).toBe("frame");
    if (ev.kind !== "frame") return;
    expect(ev.frame.id).toBe(SESSION);
    expect(ev.frame.type).toBe("core.exec.stdout");
    const data = (ev.frame.payload as { data: Uint8Array }).data;
    expect(data.length).toBe(size);
    expect(data.every((b) => b === i)).toBe(true);
  });
  expect(decoder.buffered).toBe(0);
  // Every byte out was a frame: the heads and the data, nothing else.
  expect(sent - bytes).toBeGreaterThan(0);
  expect(sent - bytes).toBeLessThan(chunks * 64);
});
