/**
 * The raw descriptor calls the port thread's loop makes on every round: the reusable poll set
 * (each descriptor's events at its index, nothing left over from the round before, bad
 * descriptors reported instead of thrown), reads into a shared inbox by address, and the port's
 * chunked writes (one writev(2) of 32 KiB segments).
 */
import { expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import {
  EAGAIN,
  POLLIN,
  POLLOUT,
  PollSet,
  PORT_WRITE_MAX,
  readFd,
  readFdAt,
  wakePipe,
  writeChunked,
  writeFd,
} from "../../src/sys/fd-io.ts";
import { closeFd, libc } from "../../src/sys/libc.ts";

const POLLNVAL = 0x20;

test("a poll set reports each descriptor's events at its index, and a round after clear() starts from nothing", () => {
  const [r1, w1] = wakePipe();
  const [r2, w2] = wakePipe();
  try {
    writeFd(w2, Uint8Array.of(7), "test");
    const set = new PollSet(4);
    expect(set.add(r1, POLLIN)).toBe(0);
    expect(set.add(r2, POLLIN)).toBe(1);
    expect(set.add(w1, POLLOUT)).toBe(2);
    set.poll(0);
    expect(set.revents(0)).toBe(0);
    expect(set.revents(1) & POLLIN).toBe(POLLIN);
    expect(set.revents(2) & POLLOUT).toBe(POLLOUT);

    // Next round: the drained pipe alone, at index 0 where a ready one sat before.
    readFd(r2, new Uint8Array(8), "test");
    set.clear();
    set.add(r2, POLLIN);
    set.poll(0);
    expect(set.revents(0)).toBe(0);
  } finally {
    for (const fd of [r1, w1, r2, w2]) closeFd(fd);
  }
});

test("a poll set ignores a negative descriptor and reports a closed one as POLLNVAL, without throwing", () => {
  const [r, w] = wakePipe();
  closeFd(r);
  closeFd(w);
  const set = new PollSet(2);
  set.add(-1, POLLIN); // host mode's missing port
  set.add(r, POLLIN);
  set.poll(0);
  expect(set.revents(0)).toBe(0);
  expect(set.revents(1)).toBe(POLLNVAL);
});

test("a full poll set refuses one more descriptor, naming its capacity", () => {
  const set = new PollSet(1);
  set.add(0, POLLIN);
  expect(() => set.add(1, POLLIN)).toThrow(/poll set full \(1 descriptors\)/);
});

test("readFdAt reads into a shared buffer at an address, and says EAGAIN on an empty pipe", () => {
  const [r, w] = wakePipe();
  try {
    const inbox = new SharedArrayBuffer(64);
    const at = ptr(new Uint8Array(inbox));
    writeFd(w, Uint8Array.of(1, 2, 3), "test");
    expect(readFdAt(r, at + 10, 54, "test")).toBe(3);
    expect([...new Uint8Array(inbox, 9, 5)]).toEqual([0, 1, 2, 3, 0]);
    expect(readFdAt(r, at, 64, "test")).toBe(-EAGAIN);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("read(2) and write(2) come back as numbers, not BigInts (no garbage per call)", () => {
  const [r, w] = wakePipe();
  try {
    const one = Uint8Array.of(5);
    expect(typeof libc().write(w, ptr(one), 1)).toBe("number");
    expect(typeof libc().read(r, ptr(one), 1)).toBe("number");
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("writeChunked writes a buffer from an offset as one writev of segments, bytes in order", () => {
  const [r, w] = wakePipe();
  try {
    const buf = new Uint8Array(40_100).map((_, i) => (i * 31) & 0xff);
    // 40 000 bytes from byte 100 in segments of 4096: ten segments, the last one short.
    expect(writeChunked(w, buf, 100, 4096, "test")).toBe(40_000);
    const got = new Uint8Array(40_000);
    let n = 0;
    while (n < got.length) n += readFd(r, got.subarray(n), "test");
    expect(Buffer.from(got).equals(Buffer.from(buf.subarray(100)))).toBe(true);
    expect(writeChunked(w, buf, buf.length, 4096, "test")).toBe(0); // nothing left to write
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("writeChunked stops at its segment limit, and says EAGAIN when the descriptor takes nothing", () => {
  const [r, w] = wakePipe();
  try {
    // 64 segments of 16 bytes at most per call: the caller's loop writes the rest.
    expect(writeChunked(w, new Uint8Array(2000), 0, 16, "test")).toBe(64 * 16);
    const big = new Uint8Array(1 << 20);
    let total = 64 * 16;
    for (let n; (n = writeChunked(w, big, 0, PORT_WRITE_MAX, "test")) > 0;) total += n;
    expect(writeChunked(w, big, 0, PORT_WRITE_MAX, "test")).toBe(-EAGAIN);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(1 << 20); // a pipe holds far less than a MiB by default
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("writeChunked on a closed descriptor throws an error naming the call and the subject", () => {
  const [r, w] = wakePipe();
  closeFd(r);
  closeFd(w);
  expect(() => writeChunked(w, Uint8Array.of(1), 0, 16, "agent port")).toThrow(/writev.*agent port/);
});
