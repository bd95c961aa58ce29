/**
 * The raw descriptor calls the port thread's loop makes on every round: the reusable poll set
 * (each descriptor's events at its index, nothing left over from the round before, bad
 * descriptors reported instead of thrown) and reads into a shared inbox by address.
 */
import { expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import {
  EAGAIN,
  POLLIN,
  POLLOUT,
  PollSet,
  readFd,
  readFdAt,
  wakePipe,
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
