/**
 * Stdin read back from the spill file: in order, in frame-pool buffers that go back to the pool;
 * and stdin pushed after its end, whose buffer goes back too.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocFrame, framePoolState, releaseFrameData } from "../../src/agent/frame-pool.ts";
import { StdinSpill } from "../../src/agent/exec/stdin-spill.ts";
import { StdinWriter } from "../../src/agent/exec/stdin-writer.ts";
import { InboundBudget } from "../../src/agent/inbound-budget.ts";

test("spilled stdin comes back in order, 1 MiB at a time, in pooled buffers given back after use", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-spill-test-"));
  try {
    const spill = new StdinSpill(dir, "s1");
    const data = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => (i * 13 + (i >> 16)) & 0xff);
    expect(spill.append(data.subarray(0, 1 << 20))).toBe(true);
    expect(spill.append(data.subarray(1 << 20))).toBe(true);
    expect(readdirSync(dir)).toEqual([]); // unlinked at once: nothing left if agentd dies
    const lentBefore = framePoolState().lent;
    const back: number[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let at = 0;
    for (let chunk = spill.take(); chunk; chunk = spill.take()) {
      back.push(chunk.length);
      expect(framePoolState().lent).toBe(lentBefore + 1);
      expect(Buffer.from(chunk).equals(Buffer.from(data.subarray(at, at + chunk.length)))).toBe(true);
      at += chunk.length;
      buffers.add(chunk.buffer);
      releaseFrameData(chunk); // what the writer does once the pipe has it
    }
    expect(back).toEqual([1 << 20, 1 << 20, 0.5 * 1024 * 1024]);
    expect(framePoolState().lent).toBe(lentBefore);
    expect(buffers.size).toBe(1); // one buffer, reused for each chunk
    expect(spill.pending).toBe(0);
    spill.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stdin pushed after its end is dropped and its pooled piece goes back to the pool", () => {
  const budget = new InboundBudget(
    () => {},
    () => {},
  );
  const writer = new StdinWriter(budget, () => {});
  writer.push(new Uint8Array(0));
  const lentBefore = framePoolState().lent;
  const piece = allocFrame(1 << 20);
  expect(framePoolState().lent).toBe(lentBefore + 1);
  writer.push(piece);
  expect(framePoolState().lent).toBe(lentBefore);
  expect(budget.held).toBe(0);
});
