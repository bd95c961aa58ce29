/**
 * Exec, complete, in the real guest: terminal behaviour, users and groups as the guest's own
 * files say, every rlimit (raised too: the guest agent has every capability), signals to the
 * group, and stdin to a child that never reads.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AgentClient } from "../../src/host/client.ts";
import { percentile } from "../../bench/stats.ts";
import { echoLatencyDuringRead, slowest } from "../support.ts";
import { bootGuest, text, type Guest } from "./harness.ts";

let guest: Guest;
let c: AgentClient;

beforeAll(async () => {
  guest = await bootGuest();
  c = await guest.connect();
}, 120_000);
afterAll(async () => {
  c?.close();
  await guest?.stop();
}, 60_000);

test("agentd runs with the small heap, its allowance and no JIT that init sets; its children get none of it", async () => {
  const sh = async (s: string) => text((await c.exec("sh", ["-c", s]).collect()).stdout);
  const own = (await sh("tr '\\0' '\\n' < /proc/$(pidof agentd)/environ")).split("\n");
  expect(own).toEqual(
    expect.arrayContaining([
      "BUN_JSC_forceRAMSize=16777216",
      "BUN_JSC_useDFGJIT=0",
      "BUN_JSC_useBaselineJIT=0",
      "BUN_JSC_smallHeapSize=3145728",
    ]),
  );
  expect((await sh("env")).split("\n").filter((l) => l.startsWith("BUN_JSC_"))).toEqual([]);
});

test("a tty session: controlling terminal, ^C, resize and the exit code", async () => {
  const r = await c.exec("sh", ["-c", "tty; stty size; exit 5"], { tty: true, rows: 20, cols: 70 }).collect();
  expect(text(r.stdout)).toMatch(/^\/dev\/pts\/\d+\r\n20 70\r\n$/);
  expect(r.code).toBe(5);
  const h = c.exec("sleep", ["30"], { tty: true });
  await h.started;
  await Bun.sleep(300);
  await h.write("\x03");
  expect(await h.exited).toEqual({ code: -1, signal: 2 });
});

test("`id` as a user matches what `id USER` says from the guest's /etc/group", async () => {
  // The kernel sorts the group list a process has; `id USER` lists the primary group first.
  const normalized = (id: string) =>
    id.replace(/groups=(\S+)/, (_m, g: string) => `groups=${g.split(",").sort().join(",")}`);
  const asUser = text((await c.exec("id", [], { user: "sandbox" }).collect()).stdout);
  const byName = text((await c.exec("id", ["sandbox"]).collect()).stdout);
  expect(normalized(asUser)).toBe(normalized(byName));
  expect(normalized(asUser)).toBe("uid=1000(sandbox) gid=1000(sandbox) groups=100(users),1000(sandbox)\n");
  // A uid passwd does not know: allowed, with the given gid and no supplementary groups.
  const numeric = text((await c.exec("id", [], { user: "4242:77" }).collect()).stdout);
  expect(numeric).toBe("uid=4242 gid=77\n");
});

test("all sixteen rlimits, raised above the defaults where that needs privilege", async () => {
  const limits: [string, string, number][] = [
    ["cpu", "Max cpu time", 300],
    ["fsize", "Max file size", 2 ** 32],
    ["data", "Max data size", 2 ** 33],
    ["stack", "Max stack size", 2 ** 24],
    ["core", "Max core file size", 2 ** 20],
    ["rss", "Max resident set", 2 ** 30],
    ["nproc", "Max processes", 4321],
    ["nofile", "Max open files", 65536],
    ["memlock", "Max locked memory", 2 ** 27],
    ["as", "Max address space", 2 ** 36],
    ["locks", "Max file locks", 999],
    ["sigpending", "Max pending signals", 7777],
    ["msgqueue", "Max msgqueue size", 2 ** 21],
    ["nice", "Max nice priority", 15],
    ["rtprio", "Max realtime priority", 50],
    ["rttime", "Max realtime timeout", 500000],
  ];
  const r = await c
    .exec("cat", ["/proc/self/limits"], {
      rlimits: limits.map(([resource, , v]) => ({ resource, soft: v, hard: v })),
    })
    .collect();
  expect(text(r.stderr)).toBe("");
  const table = text(r.stdout).split("\n");
  for (const [name, label, v] of limits) {
    const line = table.find((l) => l.startsWith(label));
    expect(line?.slice(26).trim().split(/\s+/).slice(0, 2), name).toEqual([String(v), String(v)]);
  }
});

test("stdin to a child that does not read: no byte lost, other sessions and signals not held up", async () => {
  const slow = c.exec("sh", ["-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; sha256sum"]);
  await slow.started;
  const sent = createHash("sha256");
  const block = randomBytes(1 << 20);
  for (let i = 0; i < 32; i++) {
    sent.update(block);
    await slow.write(block);
  }
  const t = performance.now();
  expect(text((await c.exec("echo", ["meanwhile"]).collect()).stdout)).toBe("meanwhile\n");
  expect(performance.now() - t).toBeLessThan(3000);
  await slow.closeStdin();
  await c.exec("touch", ["/tmp/go"]).collect();
  expect(text((await slow.collect()).stdout).split(" ")[0]).toBe(sent.digest("hex"));
}, 120_000);

test("fairness: a keystroke echo comes back in < 100 ms at p99 while a 1 GiB fs read streams", async () => {
  await c.exec("truncate", ["-s", "1G", "/tmp/sparse-1g"]).collect();
  // 200 keys, so one scheduling hiccup of the TCG host is not the p99 by itself.
  const keys = await echoLatencyDuringRead(c, "/tmp/sparse-1g", 200);
  await c.exec("rm", ["/tmp/sparse-1g"]).collect();
  expect(percentile(keys, 99), `the slowest ten: ${slowest(keys)}`).toBeLessThan(100);
}, 180_000);

test("600 sessions at once, each printing a line and then sleeping: every line arrives while all still run (past 512, the main thread pumps the pipes)", async () => {
  const n = 600;
  const got = new Set<number>();
  let ended = 0;
  const handles = Array.from({ length: n }, (_, i) => {
    const h = c.exec("sh", ["-c", `echo line-${i}; exec sleep 600`]);
    void (async () => {
      for await (const o of h.output) if (text(o.data) === `line-${i}\n`) got.add(i);
    })().catch(() => {});
    void h.exited.then(() => ended++).catch(() => {});
    return h;
  });
  // Before the fallback the 88 past the port thread's 1024 copies waited for others to end: no
  // line came for them while all slept. How fast the guest starts 600 shells depends on the host
  // (8-11 s for this file alone under TCG, 26 s in a whole test run, over 30 s in a CI run that
  // failed on the fixed 30 s this had), so the test fails when no new line comes for 30 s.
  let seen = 0;
  let since = performance.now();
  while (got.size < n && performance.now() - since < 30_000) {
    await Bun.sleep(500);
    if (got.size !== seen) [seen, since] = [got.size, performance.now()];
  }
  expect(got.size).toBe(n);
  expect(ended).toBe(0);
  for (const h of handles) h.signal(9);
  const ends = await Promise.all(handles.map((h) => h.exited));
  expect(ends.every((e) => e.code === -1 && e.signal === 9)).toBe(true);
}, 400_000);
