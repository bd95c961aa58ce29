/**
 * The output pump on a real pipe (no child): data in order, the end of the pipe, and cancel()
 * ending every kind of wait at once with the pipe closed.
 */
import { expect, test } from "bun:test";
import type { OutputQueue } from "../../src/agent/output-queue.ts";
import { Pump } from "../../src/agent/exec/pump.ts";
import { outputPipe, writeFd } from "../../src/sys/fd-io.ts";
import { closeFd } from "../../src/sys/libc.ts";
import { existsSync } from "node:fs";

function fakeQueue(full: { now: boolean }): OutputQueue {
  return {
    closed: false,
    room: () => (full.now ? new Promise<void>(() => {}) : null),
  } as unknown as OutputQueue;
}

test("moves what is written, in order, and ends with the pipe; the read end is closed", async () => {
  const [r, w] = outputPipe(1 << 20);
  const got: number[] = [];
  const pump = new Pump(r, fakeQueue({ now: false }), (data, done) => (got.push(...data), done?.()), "test");
  for (let i = 0; i < 50; i++) {
    writeFd(w, Uint8Array.of(i), "test");
    await Bun.sleep(1);
  }
  closeFd(w);
  await pump.done;
  expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(existsSync(`/proc/self/fd/${r}`)).toBe(false);
});

test("cancel() ends a wait for data and a wait for room at once", async () => {
  for (const full of [false, true]) {
    const [r, w] = outputPipe(1 << 20);
    const pump = new Pump(r, fakeQueue({ now: full }), (_d, done) => done?.(), "test");
    await Bun.sleep(50); // now waiting: for the pipe (empty) or for room (queue full)
    const t0 = performance.now();
    pump.cancel();
    await pump.done;
    expect(performance.now() - t0).toBeLessThan(500);
    expect(existsSync(`/proc/self/fd/${r}`)).toBe(false);
    closeFd(w);
  }
});

test("recheck() while a writer still holds the pipe: the pump reads empty, waits again, moves what comes later", async () => {
  const [r, w] = outputPipe(1 << 20);
  const got: number[] = [];
  const pump = new Pump(r, fakeQueue({ now: false }), (data, done) => (got.push(...data), done?.()), "test");
  let ended = false;
  void pump.done.then(() => (ended = true));
  await Bun.sleep(50); // waiting for the pipe
  for (let i = 0; i < 5; i++) pump.recheck();
  await Bun.sleep(50);
  expect(ended).toBe(false);
  writeFd(w, Uint8Array.of(7, 8, 9), "test");
  await Bun.sleep(50);
  expect(got).toEqual([7, 8, 9]);
  closeFd(w);
  await pump.done;
  expect(existsSync(`/proc/self/fd/${r}`)).toBe(false);
});

test("recheck() does not end a wait for room: nothing is read while the queue is full", async () => {
  const full = { now: true };
  const [r, w] = outputPipe(1 << 20);
  const got: number[] = [];
  const pump = new Pump(r, fakeQueue(full), (data, done) => (got.push(...data), done?.()), "test");
  writeFd(w, Uint8Array.of(1, 2, 3), "test");
  closeFd(w);
  await Bun.sleep(50); // waiting for room, with data and the end in the pipe
  pump.recheck();
  await Bun.sleep(50);
  expect(got).toEqual([]);
  pump.cancel();
  await pump.done;
});
