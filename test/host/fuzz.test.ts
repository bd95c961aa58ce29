/**
 * 200,000 hostile frames (fixed seed) against agentd in host mode, sandboxed in a copy of the
 * guest image: after every batch of 5,000 it still answers an exec, and its RSS stays bounded.
 * A longer run: `bun scripts/fuzz.ts --frames 2000000 --seed 7`.
 */
import { expect, test } from "bun:test";
import { fuzz, sandboxedAgent } from "../../scripts/fuzz.ts";
import { defaultImage } from "../vm/harness.ts";

test("200,000 fuzzed frames: agentd keeps answering and its memory stays bounded", async () => {
  defaultImage();
  const agent = await sandboxedAgent();
  try {
    const r = await fuzz(agent.socket, 200_000, 20261128, agent.pid);
    expect(r.failures).toEqual([]);
    expect(r.batches).toBeGreaterThanOrEqual(40);
    expect(r.frames).toBe(200_000 - r.skippedShutdowns);
    expect(r.maxRssKiB).toBeGreaterThan(0);
    expect(r.maxRssKiB).toBeLessThan(128 * 1024);
  } finally {
    await agent.stop();
  }
}, 900_000);
