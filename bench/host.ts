/**
 * Host-mode benchmark: the compiled agentd on a Unix socket, driven by the client library.
 * Reports exec round trip (p50/p99) next to a local spawn of `true`, stdout and fs throughput,
 * and agentd's RSS idle and at its peak. Numbers only; nothing here asserts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../src/host/client.ts";
import { percentile, printTable, rssKiB, sampleRss, timeEach, type Row } from "./stats.ts";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const root = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "agentd-bench-"));
const socket = join(dir, "agent.sock");
const proc = Bun.spawn([join(root, "dist/agentd"), "--socket", socket, "--runtime-dir", dir], {
  stderr: "ignore",
});
for (let i = 0; i < 300 && !(await Bun.file(socket).exists()); i++) await Bun.sleep(10);
const client = await AgentClient.connect(socket);
const rows: Row[] = [];
await Bun.sleep(300);
const idle = rssKiB(proc.pid);
const rss = sampleRss(proc.pid);

// Floor: spawning `true` directly here, the cost no agent can avoid.
const floor = await timeEach(200, () => Bun.spawn(["true"]).exited);
const rtt = await timeEach(300, () => client.exec("true").collect());
rows.push({
  metric: "exec round trip p50",
  value: percentile(rtt, 50),
  unit: "ms",
  note: `local spawn of true p50 ${percentile(floor, 50).toFixed(2)} ms`,
});
rows.push({
  metric: "exec round trip p99",
  value: percentile(rtt, 99),
  unit: "ms",
  note: `local spawn p99 ${percentile(floor, 99).toFixed(2)} ms`,
});

let t = performance.now();
let got = 0;
const h = client.exec("head", ["-c", String(SIZE), "/dev/zero"]);
for await (const o of h.output) got += o.data.length;
rows.push({ metric: "stdout streaming", value: got / MiB / ((performance.now() - t) / 1000), unit: "MB/s" });

const block = new Uint8Array(MiB).fill(7);
async function* source() {
  for (let i = 0; i < SIZE / MiB; i++) yield block;
}
const path = join(dir, "bench.bin");
t = performance.now();
await client.writeFile(path, source());
rows.push({
  metric: "fs write (atomic, fsync)",
  value: SIZE / MiB / ((performance.now() - t) / 1000),
  unit: "MB/s",
});
t = performance.now();
got = 0;
for await (const c of client.read(path)) got += c.length;
rows.push({ metric: "fs read", value: got / MiB / ((performance.now() - t) / 1000), unit: "MB/s" });

const t200 = performance.now();
const all = await Promise.all(
  Array.from({ length: 200 }, (_, i) => client.exec("sh", ["-c", `exit ${i % 256}`]).collect()),
);
const right = all.filter((r, i) => r.code === i % 256).length;
rows.push({
  metric: "200 concurrent execs",
  value: performance.now() - t200,
  unit: "ms",
  note: `${right}/200 exit codes right`,
});

// Fairness: keystrokes echoed by a tty `cat` while a 1 GiB file streams through fs read.
const sparse = join(dir, "sparse-1g.bin");
Bun.spawnSync(["truncate", "-s", "1G", sparse]);
const tty = client.exec("cat", [], { tty: true });
await tty.started;
const echoes: number[] = [];
const keyWait: { resolve: (() => void) | null } = { resolve: null };
void (async () => {
  for await (const o of tty.output) if (o.data.includes(0x6b)) keyWait.resolve?.();
})().catch(() => {});
// The whole file is read (there is no way to cancel a Read); keystrokes go in while it streams.
const download = (async () => {
  for await (const _c of client.read(sparse));
})();
await Bun.sleep(200);
for (let i = 0; i < 100; i++) {
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    keyWait.resolve = resolve;
    void tty.write("k");
  });
  echoes.push(performance.now() - t0);
  await Bun.sleep(10);
}
await download;
tty.signal(9);
echoes.sort((a, b) => a - b);
rows.push({ metric: "tty echo p50 during 1 GiB fs read", value: percentile(echoes, 50), unit: "ms" });
rows.push({
  metric: "tty echo p99 during 1 GiB fs read",
  value: percentile(echoes, 99),
  unit: "ms",
  limit: 100,
});

rows.push({ metric: "agentd RSS idle", value: idle / 1024, unit: "MiB" });
// No limit here: DESIGN.md's 64 MiB is agentd's in the guest (the vm table). Host mode keeps
// the baseline JIT and JavaScriptCore's default small heap, which the guest's init turns off
// and shrinks; with the guest's settings this table's peak was 62.2-63.5 MiB against 65.6-65.8
// (two runs each, 2026-11-30).
rows.push({
  metric: "agentd RSS peak",
  value: rss.stop() / 1024,
  unit: "MiB",
  note: "the 64 MiB target is the guest's: see the vm table",
});
printTable("agentd host mode (Unix socket)", rows);
writeFileSync(join(root, "bench-host.json"), JSON.stringify(rows, null, 2));
client.close();
await client.closed();
proc.kill();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
