/**
 * The fuzz harness: sends hostile frames (test/fuzz/frames.ts) to an agentd in batches; after
 * every batch it reconnects (a declared length of 4 GiB legitimately swallows the rest of a
 * stream) and checks that agentd still answers an exec and that its RSS stays bounded.
 *
 *   bun scripts/fuzz.ts --frames 200000 --seed 1             # host mode, sandboxed (below)
 *   bun scripts/fuzz.ts --socket /tmp/vm/agent.sock --frames 5000   # any running agent
 *
 * Host mode runs agentd chrooted into a throwaway copy of the guest image (its /.agentd and
 * /bin read-only), in its own mount namespace: fuzzed fs requests can only touch that copy.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../src/host/client.ts";
import { DEFAULT_IMAGE_DIR } from "../src/host/paths.ts";
import { hostileFrames, inStep, loadVectors } from "../test/fuzz/frames.ts";

export interface FuzzResult {
  frames: number;
  batches: number;
  /** Generated frames that would have been a real core.shutdown, not sent. */
  skippedShutdowns: number;
  maxRssKiB: number;
  failures: string[];
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Starts agentd chrooted in a copy of the guest image; returns its socket, pid and a stopper. */
export async function sandboxedAgent(): Promise<{
  socket: string;
  pid: () => number;
  stop(): Promise<void>;
}> {
  const root = mkdtempSync(join(tmpdir(), "agentd-fuzz-root-"));
  const unpack = Bun.spawnSync(
    ["sh", "-c", `cd "$0" && cpio -idm --quiet < "$1"`, root, join(DEFAULT_IMAGE_DIR, "initramfs.cpio")],
    { stderr: "pipe" },
  );
  if (unpack.exitCode !== 0) throw new Error(`unpacking the guest image: ${unpack.stderr}`);
  const script = [
    'mount --bind "$0/.agentd" "$0/.agentd" && mount -o remount,bind,ro "$0/.agentd"',
    'mount --bind "$0/bin" "$0/bin" && mount -o remount,bind,ro "$0/bin"',
    'mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev"',
    'exec chroot "$0" /.agentd/bin/agentd --socket /agent.sock --runtime-dir /tmp',
  ].join(" && ");
  const proc = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", script, root], {
    stdout: "ignore",
    stderr: "ignore",
  });
  const socket = join(root, "agent.sock");
  for (let i = 0; i < 500 && !(await Bun.file(socket).exists()); i++) await Bun.sleep(10);
  const agentPid = () => {
    const p = Bun.spawnSync(["pgrep", "-f", "-n", `^/.agentd/bin/agentd --socket /agent.sock`]);
    return Number(p.stdout.toString().trim()) || proc.pid;
  };
  return {
    socket,
    pid: agentPid,
    async stop() {
      Bun.spawnSync(["pkill", "-9", "-f", `^/.agentd/bin/agentd --socket /agent.sock`]);
      proc.kill(9);
      await proc.exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export async function fuzz(
  socket: string,
  frames: number,
  seed: number,
  pid: (() => number) | null,
  batch = 5000,
): Promise<FuzzResult> {
  const vectors = loadVectors(join(import.meta.dir, "..", "test", "fixtures", "vectors"));
  const result: FuzzResult = { frames: 0, batches: 0, skippedShutdowns: 0, maxRssKiB: 0, failures: [] };
  const gen = hostileFrames(seed, frames, vectors);
  for (let done = false; !done;) {
    const c = await AgentClient.connect(socket, 20_000);
    for (let i = 0; i < batch; i++) {
      const next = gen.next();
      if (next.done) {
        result.skippedShutdowns = next.value;
        done = true;
        break;
      }
      const { parts, endsBatch } = inStep(next.value);
      for (const p of parts) await c.sendRaw(p);
      result.frames++;
      if (endsBatch) break;
    }
    c.close();
    await c.closed();
    result.batches++;
    const check = await AgentClient.connect(socket, 20_000);
    const r = await check.exec("echo", ["alive"]).collect();
    if (Buffer.from(r.stdout).toString() !== "alive\n" || r.code !== 0)
      result.failures.push(`after batch ${result.batches}: exec gave ${r.code}`);
    check.close();
    await check.closed();
    if (pid) result.maxRssKiB = Math.max(result.maxRssKiB, rssKiB(pid()));
  }
  return result;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1]! : fallback;
  };
  const frames = Number(opt("frames", "200000"));
  const seed = Number(opt("seed", "1"));
  const given = opt("socket", "");
  const agent = given ? null : await sandboxedAgent();
  const t = performance.now();
  const r = await fuzz(given || agent!.socket, frames, seed, agent ? agent.pid : null);
  await agent?.stop();
  console.log(JSON.stringify({ ...r, seconds: Math.round((performance.now() - t) / 1000) }));
  process.exit(r.failures.length ? 1 : 0);
}
