/**
 * Starts the compiled dist/agentd in host mode in a fresh temporary directory and connects the
 * client library to it. Every host-tier test drives the real binary through its socket.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "bun:test";
import type { Subprocess } from "bun";
import { AgentClient } from "../../src/host/client.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const AGENTD = join(ROOT, "dist", "agentd");
export const AGENTCTL = join(ROOT, "dist", "agentctl");

export interface HostAgent {
  dir: string;
  socket: string;
  runtimeDir: string;
  proc: Subprocess;
  log(): string;
  connect(): Promise<AgentClient>;
  rssKiB(): number;
  /** Kills agentd (SIGKILL); removes its directory unless `keep`. */
  stop(keep?: boolean): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Command prefix, e.g. inMountNamespace(...). */
  wrap?: string[];
  /** Reuse this directory (socket, runtime dir, journal) instead of a fresh one: a restart. */
  dir?: string;
}

export async function startAgent(opts: StartOptions = {}): Promise<HostAgent> {
  if (!existsSync(AGENTD)) throw new Error(`${AGENTD} is missing: run 'npm run build' first`);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "agentd-test-"));
  const socket = join(dir, "agent.sock");
  const runtimeDir = join(dir, "runtime");
  mkdirSync(runtimeDir, { recursive: true });
  rmSync(socket, { force: true });
  const logPath = join(dir, "agentd.log");
  const proc = Bun.spawn([...(opts.wrap ?? []), AGENTD, "--socket", socket, "--runtime-dir", runtimeDir], {
    env: { ...process.env, ...opts.env },
    stdout: Bun.file(logPath),
    stderr: Bun.file(logPath),
  });
  for (let i = 0; i < 500 && !existsSync(socket); i++) {
    if (proc.exitCode !== null) break;
    await Bun.sleep(10);
  }
  if (!existsSync(socket)) {
    proc.kill(9);
    throw new Error(`agentd did not create its socket:\n${readFileSync(logPath, "utf8")}`);
  }
  return {
    dir,
    socket,
    runtimeDir,
    proc,
    log: () => readFileSync(logPath, "utf8"),
    connect: () => connectWhenListening(socket, proc, logPath),
    rssKiB: () => {
      const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
    },
    async stop(keep = false) {
      if (proc.exitCode === null) proc.kill(9);
      await proc.exited;
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Connects once agentd listens. The socket file appears at bind(2), a moment before listen(2): a
 * connection in between is refused (seen once in CI on a busy machine). A refusal while agentd
 * runs is tried again for up to a second; once agentd has exited, its log is the error.
 */
async function connectWhenListening(socket: string, proc: Subprocess, logPath: string): Promise<AgentClient> {
  for (let i = 0; ; i++) {
    try {
      return await AgentClient.connect(socket);
    } catch (e) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(
          `agentd exited (${proc.exitCode ?? proc.signalCode}):\n${readFileSync(logPath, "utf8")}`,
        );
      if (i >= 20) throw e;
      await Bun.sleep(50);
    }
  }
}

export const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/**
 * A `wrap` that runs agentd in a mount namespace of its own after the shell command `setup` (a
 * mount), so a test can give it mounts the host does not see.
 */
export function inMountNamespace(setup: string): string[] {
  return ["unshare", "-m", "--propagation", "private", "sh", "-c", `${setup} && exec "$0" "$@"`];
}

/**
 * One agentd and one client for all the tests of a file: started before the first test, stopped
 * after the last (the host tier's counterpart of the vm tier's guestPerFile).
 */
export function agentPerFile(): { readonly agent: HostAgent; readonly client: AgentClient } {
  let agent: HostAgent | null = null;
  let client: AgentClient | null = null;
  beforeAll(async () => {
    agent = await startAgent();
    client = await agent.connect();
  });
  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });
  const started = <T>(x: T | null): T => {
    if (!x) throw new Error("the file's agentd did not start (see the beforeAll failure)");
    return x;
  };
  return {
    get agent() {
      return started(agent);
    },
    get client() {
      return started(client);
    },
  };
}
