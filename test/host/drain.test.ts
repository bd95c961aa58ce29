/**
 * After a process exits, the output it wrote reaches the host whole, however long agentd or the
 * host takes: a host that reads nothing for longer than the drain bound, and sessions whose
 * last output waits behind other busy streams for a read buffer (before: a stream lost the MiB
 * still in its pipe at the exit, and a second session's whole output was dropped). (Output of background children that
 * hold the pipe after the exit is still bounded: see the exec tests.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { AgentClient } from "../../src/host/client.ts";
import { DRAIN_MAX_MS } from "../../src/agent/exec/session.ts";
import { startAgent, text, type HostAgent } from "./harness.ts";

/** Six streams of this size, read by a host that takes SLOW_MS per chunk: read buffers run out. */
const BUSY_MIB = 12;
const SLOW_MS = 40;
let agent: HostAgent;
let client: AgentClient;

beforeAll(async () => {
  agent = await startAgent();
  client = await agent.connect();
});
afterAll(async () => {
  client.close();
  await agent.stop();
});

/** Counts a session's stdout bytes, keeping the last few; optionally slow (ms per chunk). */
async function drainStdout(h: ReturnType<AgentClient["exec"]>, slowMs = 0) {
  let n = 0;
  let tail = "";
  for await (const o of h.output) {
    if (o.stream !== "stdout") continue;
    n += o.data.length;
    tail = (tail + text(o.data.subarray(Math.max(0, o.data.length - 16)))).slice(-16);
    if (slowMs) await Bun.sleep(slowMs);
  }
  return { n, tail, exit: await h.exited };
}

test("output a process wrote before exiting arrives whole after the host read nothing for longer than the drain bound", async () => {
  // A stalls the connection: the client stops reading the socket once 16 MiB are unread.
  const a = client.exec("head", ["-c", String(64 << 20), "/dev/zero"]);
  await Bun.sleep(500);
  // B's 512 KiB fit its pipe, so B exits at once; its output waits behind A's in agentd.
  const b = client.exec("sh", ["-c", "head -c 524288 /dev/zero; echo end"]);
  await Bun.sleep(DRAIN_MAX_MS + 1000);
  const [ra, rb] = await Promise.all([drainStdout(a), drainStdout(b)]);
  expect(ra.n).toBe(64 << 20);
  expect(rb.n).toBe(524288 + 4);
  expect(rb.tail.endsWith("end\n")).toBe(true);
  expect(rb.exit.code).toBe(0);
}, 60_000);

test("busy streams and short commands among them lose no output while they wait for read buffers", async () => {
  const busy = Array.from({ length: 6 }, () =>
    client.exec("head", ["-c", String(BUSY_MIB << 20), "/dev/zero"]),
  );
  const reading = busy.map((h) => drainStdout(h, SLOW_MS));
  await Bun.sleep(200);
  const short = await Promise.all(
    Array.from({ length: 8 }, (_, i) => client.exec("sh", ["-c", `echo done-${i}; exit ${i}`]).collect()),
  );
  short.forEach((r, i) => {
    expect(text(r.stdout)).toBe(`done-${i}\n`);
    expect(r.code).toBe(i);
  });
  for (const r of await Promise.all(reading)) expect(r.n).toBe(BUSY_MIB << 20);
}, 120_000);
