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
