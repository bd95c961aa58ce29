/**
 * Exec, complete: terminals (^C, EOF, resize and SIGWINCH, binary-safe output), all sixteen
 * rlimits as /proc/self/limits shows them, stdin that a child never reads, which must not
 * hold up other sessions or a signal, and must lose no byte; and output after an exit, which
 * reaches the host whole however long agentd or the host takes (a host that reads nothing for
 * longer than the drain bound; sessions whose last output waits behind busy streams for a read
 * buffer: before, a stream lost the MiB still in its pipe at the exit, and a second session's
 * whole output was dropped).
 */
import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentClient } from "../../src/host/client.ts";
import { percentile } from "../../bench/stats.ts";
import { echoLatencyDuringRead, slowest } from "../support.ts";
import { agentPerFile, startAgent, text } from "./harness.ts";
import { DRAIN_MAX_MS } from "../../src/agent/exec/session.ts";

const host = agentPerFile();

describe("tty sessions", () => {
  test("^C on stdin interrupts the foreground job", async () => {
    const h = host.client.exec("sleep", ["30"], { tty: true });
    await h.started;
    await Bun.sleep(100);
    const t = performance.now();
    await h.write("\x03");
    expect(await h.exited).toEqual({ code: -1, signal: 2 });
    expect(performance.now() - t).toBeLessThan(2000);
  });

  test("output is binary-safe in raw mode", async () => {
    const bytes = randomBytes(65536);
    const file = join(host.agent.dir, "binary.bin");
    writeFileSync(file, bytes);
    const h = host.client.exec("sh", ["-c", `stty raw -echo; printf S; cat ${file}`], { tty: true });
    const r = await h.collect();
    const out = Buffer.from(r.stdout);
    const start = out.indexOf("S") + 1;
    expect(out.subarray(start).equals(bytes)).toBe(true);
  });

  test("resize reaches the child as SIGWINCH with the new size", async () => {
    const h = host.client.exec(
      "sh",
      ["-c", "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done"],
      {
        tty: true,
        rows: 10,
        cols: 40,
      },
    );
    let seen = "";
    const reader = (async () => {
      for await (const o of h.output) {
        seen += text(o.data);
        if (seen.includes("ready") && !seen.includes("51 101")) h.resize(51, 101);
        if (seen.includes("51 101")) break;
      }
    })();
    await Promise.race([reader, Bun.sleep(5000)]);
    expect(seen).toContain("51 101");
    h.signal(9);
    await h.exited;
  });

  test("fairness: a keystroke echo comes back in < 100 ms at p99 while a 1 GiB fs read streams", async () => {
    // An agent of its own: the 1 GiB read leaves allocator memory and descriptors behind that the
    // memory and descriptor tests below must not inherit.
    const own = await startAgent();
    const c = await own.connect();
    try {
      const file = join(own.dir, "sparse-1g");
      Bun.spawnSync(["truncate", "-s", "1G", file]);
      const keys = await echoLatencyDuringRead(c, file, 100);
      rmSync(file);
      expect(percentile(keys, 99), `the slowest ten: ${slowest(keys)}`).toBeLessThan(100);
    } finally {
      c.close();
      await own.stop();
    }
  }, 120_000);

  test("the child is a session leader with the terminal as its controlling tty", async () => {
    const r = await host.client
      .exec(
        "sh",
        ["-c", 'tty; ps -o pid=,sid=,tty= -p $$ | awk \'{print ($1==$2) ? "leader" : "not-leader"}\''],
        { tty: true },
      )
      .collect();
    expect(text(r.stdout)).toMatch(/^\/dev\/pts\/\d+\r\nleader\r\n$/);
  });
});

describe("rlimits", () => {
  const limits: [string, string, number, number][] = [
    ["cpu", "Max cpu time", 100, 200],
    ["fsize", "Max file size", 2 ** 30, 2 ** 31],
    ["data", "Max data size", 2 ** 30, 2 ** 31],
    ["stack", "Max stack size", 4 << 20, 16 << 20],
    ["core", "Max core file size", 0, 1 << 20],
    ["rss", "Max resident set", 1 << 29, 1 << 30],
    ["nproc", "Max processes", 1000, 2000],
    ["nofile", "Max open files", 256, 512],
    ["memlock", "Max locked memory", 1 << 16, 1 << 17],
    ["as", "Max address space", 8 * 2 ** 30, 16 * 2 ** 30],
    ["locks", "Max file locks", 100, 200],
    ["sigpending", "Max pending signals", 500, 600],
    ["msgqueue", "Max msgqueue size", 100000, 200000],
    ["nice", "Max nice priority", 5, 10],
    ["rtprio", "Max realtime priority", 1, 2],
    ["rttime", "Max realtime timeout", 1000, 2000],
  ];
  test("all sixteen are applied before exec, as /proc/self/limits shows", async () => {
    // Raising a hard limit needs CAP_SYS_RESOURCE, which a container may not grant: stay at or
    // below this machine's own hard limits (the VM tier, with every capability, raises them).
    const own = (await Bun.file("/proc/self/limits").text()).split("\n");
    const clamp = (label: string, v: number) => {
      const hard = own
        .find((l) => l.startsWith(label))!
        .slice(47, 68)
        .trim();
      return hard === "unlimited" ? v : Math.min(v, Number(hard));
    };
    for (const l of limits) {
      l[3] = clamp(l[1], l[3]);
      l[2] = Math.min(l[2], l[3]);
    }
    const r = await host.client
      .exec("cat", ["/proc/self/limits"], {
        rlimits: limits.map(([resource, , soft, hard]) => ({ resource, soft, hard })),
      })
      .collect();
    expect(text(r.stderr)).toBe("");
    const table = text(r.stdout);
    for (const [name, label, soft, hard] of limits) {
      const line = table.split("\n").find((l) => l.startsWith(label));
      expect(line, name).toBeDefined();
      expect(line!.slice(26).trim().split(/\s+/).slice(0, 2), name).toEqual([String(soft), String(hard)]);
    }
  });
  test("u64::MAX is unlimited", async () => {
    const r = await host.client
      .exec("sh", ["-c", "ulimit -c"], {
        rlimits: [{ resource: "core", soft: (1n << 64n) - 1n, hard: (1n << 64n) - 1n }],
      })
      .collect();
    expect(text(r.stdout)).toBe("unlimited\n");
  });
  test("an unknown group is a clear spawn failure", async () => {
    const r = await host.client.exec("true", [], { user: "root:no-such-group" }).collect();
    expect(r.code).toBe(-1);
    expect(text(r.stderr)).toContain("unknown group 'no-such-group'");
  });
});

describe("memory", () => {
  test("a child writing 1 GiB to stdout while the host reads slowly keeps agentd under 64 MiB RSS", async () => {
    let peak = host.agent.rssKiB();
    const sampler = setInterval(() => (peak = Math.max(peak, host.agent.rssKiB())), 25);
    const h = host.client.exec("head", ["-c", String(2 ** 30), "/dev/zero"]);
    let n = 0;
    for await (const o of h.output) {
      n += o.data.length;
      // A slow host: a pause every 8 MiB.
      if (n % (8 << 20) < o.data.length) await Bun.sleep(40);
    }
    clearInterval(sampler);
    expect(n).toBe(2 ** 30);
    expect((await h.exited).code).toBe(0);
    expect(peak).toBeLessThan(64 * 1024);
  }, 120_000);
});

describe("memory under bulk fs transfers", () => {
  // Bounded, not 64 MiB: these 2 GiB leave ~60-70 MiB of RSS depending on what ran before (heap
  // fragmentation); `npm run bench` reports the peak against the 64 MiB target.
  test("a 1 GiB fs read to a slow host and a 1 GiB upload keep agentd's RSS bounded (< 96 MiB)", async () => {
    const sparse = join(host.agent.dir, "sparse-1g");
    Bun.spawnSync(["truncate", "-s", "1G", sparse]);
    let peak = host.agent.rssKiB();
    const sampler = setInterval(() => (peak = Math.max(peak, host.agent.rssKiB())), 25);
    let n = 0;
    for await (const chunk of host.client.read(sparse)) {
      n += chunk.length;
      if (n % (16 << 20) < chunk.length) await Bun.sleep(20);
    }
    expect(n).toBe(2 ** 30);
    const block = new Uint8Array(1 << 20).fill(0x5a);
    async function* source() {
      for (let i = 0; i < 1024; i++) yield block;
    }
    const target = join(host.agent.dir, "upload-1g");
    await host.client.writeFile(target, source());
    clearInterval(sampler);
    expect(Bun.file(target).size).toBe(2 ** 30);
    rmSync(target);
    expect(peak).toBeLessThan(96 * 1024);
  }, 180_000);
});

describe("stdin a child never reads", () => {
  test("100 MiB to it holds up neither other sessions nor a signal to it, and no byte is lost", async () => {
    // The child reads nothing until told to, then hashes all of its stdin.
    const flag = join(host.agent.dir, "go");
    const slow = host.client.exec("sh", ["-c", `while [ ! -e ${flag} ]; do sleep 0.05; done; sha256sum`]);
    await slow.started;
    const sent = createHash("sha256");
    const block = randomBytes(1 << 20);
    for (let i = 0; i < 100; i++) {
      sent.update(block);
      await slow.write(block);
    }
    // All 100 MiB were taken by agentd (the client's writes completed); another session runs now.
    let t = performance.now();
    const other = await host.client.exec("echo", ["other session"]).collect();
    expect(text(other.stdout)).toBe("other session\n");
    expect(performance.now() - t).toBeLessThan(1000);
    await slow.closeStdin();
    writeFileSync(flag, "");
    const r = await slow.collect();
    expect(text(r.stdout).split(" ")[0]).toBe(sent.digest("hex"));

    // And a signal to such a child arrives at once.
    const stuck = host.client.exec("sleep", ["60"]);
    await stuck.started;
    for (let i = 0; i < 100; i++) await stuck.write(block);
    t = performance.now();
    stuck.signal(15);
    expect(await stuck.exited).toEqual({ code: -1, signal: 15 });
    expect(performance.now() - t).toBeLessThan(500);
  }, 60_000);
});

describe("descriptors", () => {
  test("a child holds only 0, 1 and 2 (pipes and terminal), and agentd's own are close-on-exec", async () => {
    const { readdirSync, readFileSync, readlinkSync } = await import("node:fs");
    for (const tty of [false, true]) {
      const h = host.client.exec("sleep", ["30"], { tty });
      const pid = await h.started;
      // started can come while the exec helper still runs (with a terminal; it briefly opens
      // /proc/self/oom_score_adj) or while the command's dynamic loader has a library open as
      // fd 3. So look only once `sleep` sits in its sleep syscall (x86_64 nanosleep 35 or
      // clock_nanosleep 230, the first field of /proc/PID/syscall): loading is over by then, and
      // whatever it holds it holds for the whole `sleep 30`. A bare "0,1,2" is not enough: it is
      // also what the process shows right after exec, before the loader opens anything.
      const fds = () => readdirSync(`/proc/${pid}/fd`).sort();
      const helper = () => readlinkSync(`/proc/${pid}/exe`).endsWith("agentd-exec");
      const sleeping = () =>
        ["35", "230"].includes(readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ")[0]!);
      for (let i = 0; i < 200 && (helper() || !sleeping()); i++) await Bun.sleep(10);
      expect(helper()).toBe(false);
      expect(sleeping()).toBe(true);
      expect(fds()).toEqual(["0", "1", "2"]);
      if (tty) {
        for (const fd of readdirSync(`/proc/${host.agent.proc.pid}/fdinfo`)) {
          if (Number(fd) <= 2) continue;
          const flags = parseInt(
            /flags:\s+(\d+)/.exec(readFileSync(`/proc/${host.agent.proc.pid}/fdinfo/${fd}`, "utf8"))![1]!,
            8,
          );
          expect({ fd, cloexec: (flags & 0o2000000) !== 0 }).toEqual({ fd, cloexec: true });
        }
      }
      h.signal(9);
      await h.exited;
    }
  });
});

describe("output after an exit", () => {
  /** Six streams of this size, read by a host that takes SLOW_MS per chunk: read buffers run out. */
  const BUSY_MIB = 12;
  const SLOW_MS = 40;

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
    const a = host.client.exec("head", ["-c", String(64 << 20), "/dev/zero"]);
    await Bun.sleep(500);
    // B's 512 KiB fit its pipe, so B exits at once; its output waits behind A's in agentd.
    const b = host.client.exec("sh", ["-c", "head -c 524288 /dev/zero; echo end"]);
    await Bun.sleep(DRAIN_MAX_MS + 1000);
    const [ra, rb] = await Promise.all([drainStdout(a), drainStdout(b)]);
    expect(ra.n).toBe(64 << 20);
    expect(rb.n).toBe(524288 + 4);
    expect(rb.tail.endsWith("end\n")).toBe(true);
    expect(rb.exit.code).toBe(0);
  }, 60_000);

  test("busy streams and short commands among them lose no output while they wait for read buffers", async () => {
    const busy = Array.from({ length: 6 }, () =>
      host.client.exec("head", ["-c", String(BUSY_MIB << 20), "/dev/zero"]),
    );
    const reading = busy.map((h) => drainStdout(h, SLOW_MS));
    await Bun.sleep(200);
    const short = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        host.client.exec("sh", ["-c", `echo done-${i}; exit ${i}`]).collect(),
      ),
    );
    short.forEach((r, i) => {
      expect(text(r.stdout)).toBe(`done-${i}\n`);
      expect(r.code).toBe(i);
    });
    for (const r of await Promise.all(reading)) expect(r.n).toBe(BUSY_MIB << 20);
  }, 120_000);
});
