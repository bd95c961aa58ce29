/** The output poller's shared table: what the Worker polls and reports, and races with release. */
import { OutputPoller } from "../../src/agent/exec/output-poller.ts";
import { expect, test } from "bun:test";
import {
  arm,
  collectArmed,
  type Armed,
  newOutputTable,
  setSlot,
  setUsed,
  takeReady,
  WANT_READ,
  WANT_WRITE,
} from "../../src/agent/exec/output-table.ts";

const POLLIN = 1;
const POLLHUP = 0x10;
/** The armed slots now, as a fresh list (the port thread reuses one; see the last test). */
const armedOutputs = (t: Int32Array): Armed[] => {
  const out: Armed[] = [];
  out.length = collectArmed(t, out);
  return out;
};
/** A table with slots 0, 1, 2 armed for reading on descriptors 10, 11, 12, all in use. */
function threeArmed(): Int32Array {
  const t = new Int32Array(newOutputTable());
  for (let s = 0; s < 3; s++) setSlot(t, s, 10 + s, 1);
  setUsed(t, 3);
  return t;
}
/** revents by index, as the port thread reads them from its poll set. */
const of = (revents: number[]) => (i: number) => revents[i] ?? 0;

test("only armed slots below the high-water mark are polled", () => {
  const t = new Int32Array(newOutputTable());
  setSlot(t, 0, 10, 1);
  setSlot(t, 1, 11, 0);
  setSlot(t, 2, 12, 1);
  setSlot(t, 3, 13, 1);
  setUsed(t, 3);
  expect(armedOutputs(t)).toEqual([
    { slot: 0, fd: 10, events: 1 },
    { slot: 2, fd: 12, events: 1 },
  ]);
});

test("a reported slot is disarmed: one report per arming, for data and for the end", () => {
  const t = threeArmed();
  const armed = armedOutputs(t);
  expect(takeReady(t, armed, of([POLLIN, 0, POLLHUP]))).toEqual([0, 2]);
  expect(armedOutputs(t)).toEqual([{ slot: 1, fd: 11, events: 1 }]);
  // The same poll result seen again (a stale set) reports nothing more.
  expect(takeReady(t, armed, of([POLLIN, 0, POLLHUP]))).toEqual([]);
  arm(t, 0);
  expect(takeReady(t, armedOutputs(t), of([POLLIN, 0]))).toEqual([0]);
});

test("a slot released while the Worker polled its old descriptor is not reported", () => {
  const t = new Int32Array(newOutputTable());
  setSlot(t, 0, 10, 1);
  setUsed(t, 1);
  const armed = armedOutputs(t);
  setSlot(t, 0, -1, 0); // the main thread released it (and will close fd 10)
  expect(takeReady(t, armed, of([0x20 /* POLLNVAL */]))).toEqual([]);
});

test("a stdin slot is polled for POLLOUT, and re-arming for the other direction is not taken by a stale report", () => {
  const t = new Int32Array(newOutputTable());
  setSlot(t, 0, 10, 0);
  setUsed(t, 1);
  arm(t, 0, WANT_WRITE);
  const stale = armedOutputs(t);
  expect(stale).toEqual([{ slot: 0, fd: 10, events: WANT_WRITE }]);
  // The main thread re-armed the slot for reading before the Worker's report came in: the
  // report for the old arming must not disarm the new one.
  arm(t, 0, WANT_READ);
  expect(takeReady(t, stale, of([0x4 /* POLLOUT */]))).toEqual([]);
  expect(armedOutputs(t)).toEqual([{ slot: 0, fd: 10, events: WANT_READ }]);
});

test("the port thread's collection reuses its entries round after round, and counts only the current ones", () => {
  const t = threeArmed();
  const into: Armed[] = [];
  expect(collectArmed(t, into)).toBe(3);
  const objects = [...into];
  setSlot(t, 0, 10, 0);
  setSlot(t, 1, 11, 0);
  expect(collectArmed(t, into)).toBe(1);
  expect(into[0]).toEqual({ slot: 2, fd: 12, events: 1 });
  expect(into[0]).toBe(objects[0]!); // the same object, refilled: no garbage per round
  // Only the current entries are looked at: the stale ones past the count are not reported.
  expect(takeReady(t, into, of([POLLIN, POLLIN, POLLIN]), 1)).toEqual([2]);
  expect(armedOutputs(t)).toEqual([]);
});

test("the poller's table: the lowest free slot is taken, and the count the Worker scans shrinks when the top ones are released", async () => {
  const poller = new OutputPoller(() => {});
  const t = new Int32Array(poller.table);
  const slots = await Promise.all(Array.from({ length: 100 }, (_, i) => poller.register(100 + i)));
  expect(Atomics.load(t, 0)).toBe(100);
  for (const s of slots.slice(0, 50)) poller.release(s);
  expect(Atomics.load(t, 0)).toBe(100);
  expect(await poller.register(7)).toBe(0);
  for (const s of slots.slice(50)) poller.release(s);
  expect(Atomics.load(t, 0)).toBe(1);
  // Released twice (a pump's end after a cancel): counted once.
  poller.release(slots[99]!);
  expect(await poller.register(8)).toBe(1);
  expect(Atomics.load(t, 0)).toBe(2);
});
