/** Small helpers shared by the test tiers. */
import { readFileSync } from "node:fs";
import type { AgentClient } from "../src/host/client.ts";
import { RemoteFsError } from "../src/host/errors.ts";
import { encodeFrame } from "../src/protocol/frame.ts";

/** The guest's error text for an fs operation that must fail; throws if it succeeds. */
export async function remoteError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RemoteFsError) return e.remote;
    throw e;
  }
  throw new Error("expected the guest to refuse");
}

/**
 * Keystroke echo latency while a large fs read streams (issue #5's fairness): a tty `cat`
 * echoes one key at a time while `path` is read over and over on the same connection, until
 * `samples` keys have come back. Returns the latencies in ms, sorted.
 */
export async function echoLatencyDuringRead(
  client: AgentClient,
  path: string,
  samples: number,
  gapMs = 10,
): Promise<number[]> {
  const tty = client.exec("cat", [], { tty: true });
  await tty.started;
  const waiter: { arrived: (() => void) | null } = { arrived: null };
  void (async () => {
    for await (const o of tty.output) if (o.data.includes(0x6b)) waiter.arrived?.();
  })().catch(() => {});
  let stop = false;
  let streamed = 0;
  // A Read cannot be cancelled: the one in flight when the keys are done is read to its end.
  const download = (async () => {
    while (!stop) for await (const chunk of client.read(path)) streamed += chunk.length;
  })();
  while (streamed < 8 * 1024 * 1024) await Bun.sleep(20);
  const keys: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      waiter.arrived = resolve;
      void tty.write("k");
    });
    keys.push(performance.now() - t0);
    await Bun.sleep(gapMs);
  }
  stop = true;
  tty.signal(9);
  await download;
  await tty.exited;
  return keys.sort((a, b) => a - b);
}

/** The ten largest of sorted latencies, in whole ms: what a failed bound on them shows. */
export function slowest(sorted: number[]): string {
  return sorted
    .slice(-10)
    .map((ms) => ms.toFixed(0))
    .join(", ");
}

/** The bytes a command writes to stdout, counted as they arrive (none kept). */
export async function stdoutBytes(client: AgentClient, cmd: string, args: string[]): Promise<number> {
  let n = 0;
  for await (const o of client.exec(cmd, args).output) if (o.stream === "stdout") n += o.data.length;
  return n;
}

/** The bytes of a file read through fs read, counted as they arrive (none kept). */
export async function readBytes(client: AgentClient, path: string): Promise<number> {
  let n = 0;
  for await (const chunk of client.read(path)) n += chunk.length;
  return n;
}

/** `block`, `count` times: an upload's source. */
export async function* repeated(block: Uint8Array, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield block;
}

/** Writes `block` `count` times to a `wc -c` in the guest; returns the byte count wc printed. */
export async function stdinThroughWc(client: AgentClient, block: Uint8Array, count: number): Promise<number> {
  const h = client.exec("wc", ["-c"]);
  for (let i = 0; i < count; i++) await h.write(block);
  await h.closeStdin();
  return Number(
    Buffer.from((await h.collect()).stdout)
      .toString()
      .trim(),
  );
}

/** Pseudo-random bytes (xorshift), the same for the same seed, so content errors cannot hide in zeros or a pattern. */
export function noise(n: number, seed: number): Uint8Array {
  const out = new Uint32Array(Math.ceil(n / 4));
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
  return new Uint8Array(out.buffer, 0, n);
}

/** A frame around any body, its length field counting id, flags and body (tests of foreign input). */
export function frameOf(id: number, flags: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(9 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 5 + body.length);
  view.setUint32(4, id);
  out[8] = flags;
  out.set(body, 9);
  return out;
}

/** The core.ready a stand-in for the agent (or for QEMU's side of the port) greets a client with. */
export const STAND_IN_READY = encodeFrame(0, {
  type: "core.ready",
  payload: { boot_time_ns: 1n, init_time_ns: 2n, ready_time_ns: 3n },
});

/** User plus system CPU ticks (1/100 s) in a /proc/PID/stat or /proc/PID/task/TID/stat line. */
export function cpuTicks(stat: string): number {
  // Fields 14 and 15; the name (field 2) may hold spaces and parentheses, so count from its end.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** CPU ticks (user + system) process `pid` has used so far, all its threads together. */
export function processTicks(pid: number): number {
  return cpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
}
