/**
 * Starts and stops guests: virtiofsd for the runtime share (DIR/runtime, tag msb_runtime) and
 * each extra share, then QEMU with the port on DIR/port.sock, then the relay that serves clients
 * on DIR/agent.sock (see relay.ts); `start` returns once the guest's agentd has sent core.ready,
 * or fails with the tail of the console log. State lives in DIR/state.json so `stop` (another
 * process, later) can find everything.
 */
import { qbootRom } from "./firmware.ts";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { RUNTIME_FS_TAG } from "../../protocol/constants.ts";
import { AgentClient } from "../client.ts";
import { DIST_DIR, PROJECT_ROOT } from "../paths.ts";
import { chooseAccel } from "./accel.ts";
import { checkEnvWord, macFromEnv, qemuArgs, type Share } from "./qemu-args.ts";
import { alive, waitFor } from "../process.ts";
import { pastFirmware } from "./boot-watch.ts";

export const VIRTIOFSD = "/usr/lib/qemu/virtiofsd";

/** How to run agentctl for the relay: the compiled binary, or this source under bun. */
function agentctlCommand(): string[] {
  const compiled = join(DIST_DIR, "agentctl");
  if (existsSync(compiled)) return [compiled];
  return [process.execPath, join(PROJECT_ROOT, "src", "host", "cli", "main.ts")];
}
/** Boot under TCG takes a few seconds; allow for a loaded CI machine. */
const READY_TIMEOUT_MS = 90_000;
/**
 * A guest whose console shows nothing past the firmware by then is booted again (boot-watch.ts):
 * a boot here ends in 3-10 s, and a guest in trouble after the firmware says so on its console.
 */
const STUCK_BOOT_MS = 30_000;
/** Boots at most: the last one runs to READY_TIMEOUT_MS whatever its console shows. */
const BOOT_ATTEMPTS = 2;
const DEFAULT_MAC = "02:a5:e7:00:00:01";

export interface StartOptions {
  stateDir: string;
  kernel: string;
  initrd: string;
  memoryMiB?: number;
  cpus?: number;
  env?: string[];
  shares?: { tag: string; hostDir: string }[];
  disk?: string | null;
  net?: boolean;
  accel?: string;
  cacheDir: string;
  /** Appended to QEMU's command line (the benchmark adds a second port). */
  extraQemuArgs?: string[];
  /** How long to wait for core.ready (default READY_TIMEOUT_MS). */
  readyTimeoutMs?: number;
  /** After how long a guest with nothing past the firmware on its console is booted again. */
  stuckBootMs?: number;
  /** Appended to QEMU's command line on the first boot only (a test makes that one stuck). */
  firstBootQemuArgs?: string[];
  /**
   * false: no relay. The caller talks to QEMU's socket for the port (DIR/port.sock) itself, and
   * start returns as soon as QEMU runs, before the guest is ready (tests of the port's own
   * behaviour). Default true.
   */
  relay?: boolean;
}

export interface VmState {
  socket: string;
  runtime_dir: string;
  console_log: string;
  pid: number;
  virtiofsd_pids: number[];
  /** The relay serving `socket` (see relay.ts); 0 when started without one. */
  relay_pid: number;
  state_dir: string;
  accel: string;
}

/** A log file's text so far; null when it cannot be read (not made yet). */
function logText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function tail(path: string, lines = 30): string {
  return logText(path)?.split("\n").slice(-lines).join("\n") ?? "(no console output)";
}

function startVirtiofsd(share: Share, logPath: string): number {
  const p = Bun.spawn(
    [
      VIRTIOFSD,
      `--socket-path=${share.socket}`,
      "-o",
      `source=${share.hostDir}`,
      "-o",
      "cache=auto",
      "-o",
      "sandbox=chroot",
    ],
    {
      stdin: "ignore",
      stdout: Bun.file(logPath),
      stderr: Bun.file(logPath),
      detached: true,
    },
  );
  p.unref();
  return p.pid;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    // 0 or less would signal a whole process group (or every process): never a launcher's child.
    if (pid <= 0) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

export async function startVm(o: StartOptions): Promise<VmState> {
  const dir = resolve(o.stateDir);
  for (const f of [o.kernel, o.initrd])
    if (!existsSync(f)) throw new Error(`${f} does not exist: build the image with 'agentctl image build'`);
  if (!existsSync(VIRTIOFSD))
    throw new Error(`${VIRTIOFSD} is missing: install qemu-system-x86 (npm test and npm start do)`);
  const env = [...(o.env ?? [])];
  for (const w of env) {
    const bad = checkEnvWord(w);
    if (bad) throw new Error(bad);
  }
  mkdirSync(dir, { recursive: true });
  const runtimeDir = join(dir, "runtime");
  mkdirSync(runtimeDir, { recursive: true });
  const socket = join(dir, "agent.sock");
  const portSocket = join(dir, "port.sock");
  const consoleLog = join(dir, "console.log");
  for (const f of [socket, portSocket, consoleLog, join(dir, "qemu.pid")]) rmSync(f, { force: true });

  const shares: Share[] = [
    { tag: RUNTIME_FS_TAG, hostDir: runtimeDir, socket: join(dir, `vfs-${RUNTIME_FS_TAG}.sock`) },
  ];
  for (const s of o.shares ?? []) {
    if (!existsSync(s.hostDir)) throw new Error(`--share ${s.tag}=${s.hostDir}: no such directory`);
    shares.push({ tag: s.tag, hostDir: resolve(s.hostDir), socket: join(dir, `vfs-${s.tag}.sock`) });
  }
  let mac: string | null = null;
  if (o.net) {
    mac = macFromEnv(env);
    if (!mac) {
      // QEMU's user network: guest 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3.
      mac = DEFAULT_MAC;
      env.push(`MSB_NET=iface=eth0,mac=${mac}`, "MSB_NET_IPV4=addr=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3");
    }
  }

  const plan: BootPlan = { dir, shares, env, mac, socket, portSocket, consoleLog, runtimeDir };
  const stuckMs = o.stuckBootMs ?? STUCK_BOOT_MS;
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= BOOT_ATTEMPTS;
    try {
      return await bootOnce(o, plan, last ? null : stuckMs, attempt === 1 ? (o.firstBootQemuArgs ?? []) : []);
    } catch (e) {
      if (!(e instanceof StuckBoot)) throw e;
      // Kept for a look later; the next attempt gets a console of its own.
      const kept = join(dir, `console-stuck-${attempt}.log`);
      if (existsSync(consoleLog)) renameSync(consoleLog, kept);
      console.error(
        `vm start: the guest showed no sign of life within ${stuckMs / 1000} s (its console: ${kept}); booting it again`,
      );
      for (const f of [socket, portSocket, join(dir, "qemu.pid")]) rmSync(f, { force: true });
    }
  }
}

/** What one boot attempt needs (startVm's checked options). */
interface BootPlan {
  dir: string;
  shares: Share[];
  env: string[];
  mac: string | null;
  socket: string;
  portSocket: string;
  consoleLog: string;
  runtimeDir: string;
}

/** A boot whose console showed nothing past the firmware in time (boot-watch.ts). */
class StuckBoot extends Error {}

/**
 * One boot: virtiofsd, QEMU, the relay, then core.ready. With `stuckMs`, a guest that shows no
 * sign of life on its console by then is stopped and StuckBoot thrown (startVm boots it again).
 */
async function bootOnce(
  o: StartOptions,
  p: BootPlan,
  stuckMs: number | null,
  moreQemuArgs: string[],
): Promise<VmState> {
  const { dir, shares, env, mac, socket, portSocket, consoleLog, runtimeDir } = p;
  const virtiofsdPids: number[] = [];
  for (const s of shares) {
    rmSync(s.socket, { force: true });
    virtiofsdPids.push(startVirtiofsd(s, join(dir, `virtiofsd-${s.tag}.log`)));
  }
  if (!(await waitFor(() => shares.every((s) => existsSync(s.socket)), 10_000))) {
    killAll(virtiofsdPids);
    throw new Error(`virtiofsd did not start; see ${dir}/virtiofsd-*.log`);
  }

  const accel = await chooseAccel(o.kernel, o.cacheDir, o.accel ?? process.env["AGENTD_ACCEL"]);
  const qemuBin = "qemu-system-x86_64";
  const args = qemuArgs({
    qemu: qemuBin,
    accel,
    memoryMiB: o.memoryMiB ?? 1024,
    cpus: o.cpus ?? 2,
    kernel: o.kernel,
    initrd: o.initrd,
    agentSocket: portSocket,
    consoleLog,
    pidFile: join(dir, "qemu.pid"),
    shares,
    disk: o.disk ?? null,
    mac,
    env,
    bios: qbootRom(qemuBin),
  });
  args.push(...(o.extraQemuArgs ?? []), ...moreQemuArgs);
  const qemu = Bun.spawn(args, {
    stdin: "ignore",
    stdout: Bun.file(join(dir, "qemu.log")),
    stderr: Bun.file(join(dir, "qemu.log")),
    detached: true,
  });
  qemu.unref();
  if (
    !(await waitFor(() => existsSync(portSocket) || qemu.exitCode !== null, 10_000)) ||
    qemu.exitCode !== null
  ) {
    killAll([qemu.pid, ...virtiofsdPids]);
    throw new Error(`QEMU did not start: ${tail(join(dir, "qemu.log"), 10)}`);
  }
  const state: VmState = {
    socket: o.relay === false ? portSocket : socket,
    runtime_dir: runtimeDir,
    console_log: consoleLog,
    pid: qemu.pid,
    virtiofsd_pids: virtiofsdPids,
    relay_pid: 0,
    state_dir: dir,
    accel,
  };
  if (o.relay === false) {
    writeFileSync(join(dir, "state.json"), JSON.stringify(state, null, 2));
    return state;
  }
  // The relay says when the guest's first core.ready has come (see relay.ts).
  const readyFile = join(dir, "relay.ready");
  rmSync(readyFile, { force: true });
  const relay = Bun.spawn(
    [
      ...agentctlCommand(),
      "vm",
      "relay",
      "--client",
      socket,
      "--port",
      portSocket,
      "--qemu-pid",
      String(qemu.pid),
      "--ready-file",
      readyFile,
    ],
    {
      stdin: "ignore",
      stdout: Bun.file(join(dir, "relay.log")),
      stderr: Bun.file(join(dir, "relay.log")),
      detached: true,
    },
  );
  relay.unref();
  state.relay_pid = relay.pid;
  writeFileSync(join(dir, "state.json"), JSON.stringify(state, null, 2));

  const started = Date.now();
  const readyTimeoutMs = o.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const deadline = started + readyTimeoutMs;
  // Looked at once, when stuckMs has passed: a console with a sign of life keeps it.
  let watching = stuckMs !== null;
  for (;;) {
    if (qemu.exitCode !== null || !alive(qemu.pid)) {
      killAll([relay.pid, ...virtiofsdPids]);
      throw new Error(
        `the guest stopped before it was ready (QEMU exit ${qemu.exitCode}). Console:\n${tail(consoleLog)}\n${tail(join(dir, "qemu.log"), 5)}`,
      );
    }
    if (Date.now() > deadline) {
      killAll([qemu.pid, relay.pid, ...virtiofsdPids]);
      throw new Error(`no core.ready within ${readyTimeoutMs / 1000} s. Console:\n${tail(consoleLog)}`);
    }
    if (existsSync(readyFile)) return state;
    if (watching && Date.now() - started > stuckMs!) {
      watching = false;
      if (!pastFirmware(logText(consoleLog) ?? "")) {
        killAll([qemu.pid, relay.pid, ...virtiofsdPids]);
        await waitFor(() => !alive(qemu.pid), 5_000);
        throw new StuckBoot();
      }
    }
    if (relay.exitCode !== null || !alive(relay.pid)) {
      killAll([qemu.pid, ...virtiofsdPids]);
      throw new Error(`the relay stopped (exit ${relay.exitCode}): ${tail(join(dir, "relay.log"), 10)}`);
    }
    await Bun.sleep(20);
  }
}

export function readState(stateDir: string): VmState {
  const path = join(resolve(stateDir), "state.json");
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new Error(
      `no VM state in ${stateDir} (${path} missing): was it started with 'agentctl vm start --state ${stateDir}'?`,
    );
  }
}

/** Sends core.shutdown, waits for QEMU to exit (kills it after `timeoutMs`), stops virtiofsd. */
export async function stopVm(stateDir: string, timeoutMs = 15_000): Promise<{ clean: boolean }> {
  const state = readState(stateDir);
  let clean = false;
  if (alive(state.pid)) {
    try {
      const client = await AgentClient.connect(state.socket, 5000);
      await client.shutdown();
      clean = await waitFor(() => !alive(state.pid), timeoutMs);
      client.close();
    } catch {
      clean = false;
    }
    if (!clean) killAll([state.pid]);
  }
  await waitFor(() => !alive(state.pid), 2000);
  killAll([state.relay_pid, ...state.virtiofsd_pids]);
  for (const f of ["agent.sock", "port.sock", "qemu.pid"]) rmSync(join(state.state_dir, f), { force: true });
  return { clean };
}
