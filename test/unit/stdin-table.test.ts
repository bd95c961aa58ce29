/**
 * The table of stdin pipes the port thread writes itself (port/stdin-table.ts), both sides' calls
 * on one array: an entry is written through only once its writer holds nothing and until it is
 * stopped; the port thread closes its descriptor when it sweeps a stopped entry; a handle kept by
 * a session that ended cannot touch the entry's next use; and the count of handled bytes.
 */
import { expect, test } from "bun:test";
import {
  addDone,
  claimEntry,
  directEntry,
  doneBytes,
  entryFd,
  failEntry,
  MAX_DIRECT,
  newStdinTable,
  setHeld,
  stopEntry,
  sweepStopped,
  waitDone,
} from "../../src/agent/port/stdin-table.ts";

const table = () => new Int32Array(newStdinTable());

test("an entry is written through only while its writer holds nothing, until it is stopped; the sweep closes its descriptor", () => {
  const t = table();
  const e = claimEntry(t, 7, 40)!;
  // Claimed holding: what came before the process started is the writer's to write first.
  expect(directEntry(t, 7)).toBe(-1);
  setHeld(t, e, false);
  expect(directEntry(t, 7)).toBe(e.entry);
  expect(entryFd(t, e.entry)).toBe(40);
  expect(directEntry(t, 8)).toBe(-1);
  setHeld(t, e, true);
  expect(directEntry(t, 7)).toBe(-1);
  setHeld(t, e, false);
  expect(stopEntry(t, e)).toBe(true);
  expect(stopEntry(t, e)).toBe(false);
  expect(directEntry(t, 7)).toBe(-1);
  expect(entryFd(t, e.entry)).toBe(-1);
  const closed: number[] = [];
  sweepStopped(t, (fd) => closed.push(fd));
  sweepStopped(t, (fd) => closed.push(fd));
  expect(closed).toEqual([40]);
});

test("a handle of a session that ended cannot stop or hold the entry's next use", () => {
  const t = table();
  const old = claimEntry(t, 1, 10)!;
  stopEntry(t, old);
  sweepStopped(t, () => {});
  const next = claimEntry(t, 2, 11)!;
  expect(next.entry).toBe(old.entry);
  setHeld(t, next, false);
  setHeld(t, old, true);
  expect(stopEntry(t, old)).toBe(false);
  expect(directEntry(t, 2)).toBe(next.entry);
});

test("a failed write stops the entry from the port thread's side; the table holds MAX_DIRECT entries", () => {
  const t = table();
  const e = claimEntry(t, 3, 12)!;
  setHeld(t, e, false);
  failEntry(t, e.entry);
  expect(directEntry(t, 3)).toBe(-1);
  // The session's own stop later finds nothing to do.
  expect(stopEntry(t, e)).toBe(false);
  const full = table();
  for (let i = 0; i < MAX_DIRECT; i++) expect(claimEntry(full, i, 100 + i)).not.toBeNull();
  expect(claimEntry(full, 999, 999)).toBeNull();
});

test("handled bytes count modulo 2^32; waiting for them returns at once when they are there and gives up after its time", () => {
  const t = table();
  addDone(t, 2 ** 31 - 10);
  addDone(t, 20);
  expect(doneBytes(t)).toBe((2 ** 31 + 10) | 0);
  expect(waitDone(t, (2 ** 31 + 10) | 0, 1000)).toBe(true);
  const t0 = performance.now();
  expect(waitDone(t, 5, 30)).toBe(false);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
});
