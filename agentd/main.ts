/**
 * agentd's entry. Records the start time first (core.ready reports it), runs host mode or the
 * guest agent, and installs the handlers that keep a bug from ending the process.
 */
import { startArgs, startMarks } from "./early.ts";
import { bootTimeNs } from "../src/sys/clock.ts";
const startedNs = bootTimeNs();
/** performance.now() on the kernel's clock (ms), from one reading of both. */
const perfToBootMs = Number(startedNs) / 1e6 - performance.now();

import { nodeOs } from "../src/lazy-node.ts";
import { joinPath, parentDir, writeText } from "../src/sys/files.ts";
import type { Agent } from "../src/agent/agent.ts";
import type { AgentConfig } from "../src/agent/config.ts";
import { log, writeStderr } from "../src/agent/log.ts";
import { PartialJournal } from "../src/agent/fs/partials.ts";
import { execve } from "../src/sys/system.ts";
import { ENV_USER, SCRIPTS_PATH } from "../src/protocol/constants.ts";
import { USAGE } from "./args.ts";
import { runGuestMode, setUpGuest, waitForPort } from "./guest-mode.ts";
import { MODULES_FD_ENV } from "../src/setup/init-pipe.ts";
import type { OpenPort } from "../src/agent/port/port-link.ts";
import { runHostMode } from "./host-mode.ts";

/**
 * JavaScriptCore sizes its heap from the machine's RAM and lets garbage pile up to hundreds of
 * MiB under bulk I/O; told the machine is small, it collects early. Without the DFG tier the JIT
 * keeps less code around (agentd's hot paths are native I/O, so little speed is lost). Together
 * they keep agentd under its 64 MiB budget. These options are read only at start, so agentd
 * re-executes itself once with them (init sets them in the guest, so there this costs nothing).
 */
const HEAP_HINT = { BUN_JSC_forceRAMSize: String(16 * 1024 * 1024), BUN_JSC_useDFGJIT: "0" };
if (process.env["BUN_JSC_forceRAMSize"] === undefined && !process.env["AGENTD_NO_REEXEC"]) {
  try {
    execve(process.execPath, [process.execPath, ...process.argv.slice(2)], {
      ...(process.env as Record<string, string>),
      ...HEAP_HINT,
    });
  } catch (e) {
    log("warn", `cannot re-execute with a small heap: ${(e as Error).message}`);
  }
}

/** Variables that are agentd's business, not its children's (init sets the JIT's in the guest). */
const AGENTD_OWN_ENV = new Set([
  "AGENTD_RESTARTS",
  "AGENTD_NO_REEXEC",
  "BUN_JSC_useBaselineJIT",
  "BUN_JSC_smallHeapSize",
  MODULES_FD_ENV,
]);
// HEAP_HINT's keys, without a spread: that runs the array iterator, a builtin compiled on first use.
for (const key in HEAP_HINT) AGENTD_OWN_ENV.add(key);

/** agentd's environment as children inherit it: without the MSB_* and agentd's own variables. */
function childBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("MSB_") && !AGENTD_OWN_ENV.has(k)) env[k] = v;
  }
  return env;
}

/**
 * In the guest the kernel's OOM killer must pick the workload, never agentd: -999 (init has
 * -1000). Children get 0 back from the exec helper. Host mode leaves the host's settings alone.
 */
function protectFromOom(): void {
  try {
    writeText("/proc/self/oom_score_adj", "-999");
  } catch (e) {
    log("warn", `oom_score_adj: ${(e as Error).message}`);
  }
}

function main(): void {
  const args = startArgs;
  if (!args.ok) {
    writeStderr(`agentd: ${args.error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.value.help) {
    process.stdout.write(USAGE + "\n");
    process.exit(0);
  }
  const { socket, runtimeDir, execHelper, setupOnly, steps } = args.value;
  if (setupOnly) {
    setUpGuest(steps);
    process.exit(0);
  }

  let agent: Agent | null = null;
  const onSignal = () => (agent ? void agent.shutdown() : process.exit(0));
  const takeSignals = () => {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  };
  // In host mode at once: a SIGTERM that arrives as soon as we serve must shut down cleanly. In
  // the guest once core.ready has gone out and a host that asked at once has its first answer
  // (runGuestMode): these two process.on() took 2-7 ms of the way to core.ready at boot (medians
  // of two sets of eight boots each, alternating), and until then a SIGTERM ends agentd, which
  // init, having forwarded a termination, answers by powering off as after a clean shutdown.
  if (socket !== null) takeSignals();

  // Guest setup runs before the config is read: it may add variables children inherit (the CA).
  const setup = socket === null ? setUpGuest(null, true) : null;
  // Upload temp files an earlier agentd left behind (killed mid-write) are removed before the
  // first request: in host mode now, in the guest right after core.ready (no request can come
  // before it), with the OOM score, so that neither holds up boot-to-ready.
  const partials = new PartialJournal(
    socket === null
      ? "/run/agentd/partials"
      : joinPath(runtimeDir ?? nodeOs().tmpdir(), "agentd-partials.journal"),
  );
  if (socket !== null) partials.cleanup();
  // Children's environment, made once the guest's own is final (setup may add the CA's variables):
  // in the guest right after core.ready (1.3-1.7 ms at boot under TCG), in host mode now.
  let baseEnv: Record<string, string> | null = socket === null ? null : childBaseEnv();
  const afterReady = () => {
    baseEnv ??= childBaseEnv();
    partials.cleanup();
    protectFromOom();
  };
  const config: AgentConfig = {
    get baseEnv() {
      return (baseEnv ??= childBaseEnv());
    },
    execHelper: execHelper ?? joinPath(parentDir(process.execPath), "agentd-exec"),
    scriptsPath: SCRIPTS_PATH,
    passwdFile: "/etc/passwd",
    groupFile: "/etc/group",
    defaultUser: process.env[ENV_USER]?.trim() || null,
    ready: { boot_time_ns: startedNs, init_time_ns: setup?.ns ?? 0n, ready_time_ns: bootTimeNs() },
    partials,
    // The guest's /run is on its root filesystem (set up in step 12), not agentd's memory.
    spillDir: socket === null ? "/run/agentd-spill" : joinPath(nodeOs().tmpdir(), "agentd-spill"),
  };
  if (socket !== null) {
    agent = runHostMode(socket, runtimeDir, config);
    return;
  }
  const serve = (port: OpenPort) => {
    agent = runGuestMode(
      config,
      port,
      {
        firstLineMs: startMarks.firstLine + perfToBootMs,
        workerStartedMs: startMarks.workerStarted + perfToBootMs,
      },
      afterReady,
      takeSignals,
    );
  };
  // Nothing awaited on the way to core.ready when init reported the port (guest-mode.ts's
  // setUpGuest): main() is not even an async function (entering one took 1.6-1.8 ms at boot).
  if (setup?.port) serve(setup.port);
  else void waitForPort(setup?.reader ?? null).then(serve);
}

try {
  main();
} catch (e) {
  // As an uncaught error later would be: logged, and agentd keeps running.
  log("error", `uncaught: ${(e as Error)?.stack ?? e}`);
}
// Installed once main() has returned: when init reported the port, that is after core.ready was
// written (main() awaits nothing on the way), and their first process.on() costs 2-5 ms at boot.
// Nothing is lost: main()'s own errors are caught above, and no event, rejection or callback is
// handled before its return.
process.on("uncaughtException", (e) => log("error", `uncaught: ${e?.stack ?? e}`));
process.on("unhandledRejection", (e) => log("error", `unhandled rejection: ${(e as Error)?.stack ?? e}`));
