/**
 * Guest mode: phase 1 sets the guest up (skipped when init restarted us: the guest is set up
 * already), phase 2 serves the host over the virtio port. A setup that cannot be done as asked
 * prints "agentd: setup failed: <step>: <reason>" on the console and exits AGENTD_EXIT_SETUP,
 * which init answers by powering off: user code never runs with a weaker setup than asked for.
 */
import { Agent } from "../src/agent/agent.ts";
import { formatBootLine, type BootMarks } from "./boot-line.ts";
import type { AgentConfig } from "../src/agent/config.ts";
import { startHeartbeat } from "../src/agent/heartbeat.ts";
import { log, writeStderr } from "../src/agent/log.ts";
import { findPort } from "../src/agent/port/find-port.ts";
import {
  openPort,
  servePort,
  startPortReader,
  type OpenPort,
  type PortReader,
} from "../src/agent/port/port-link.ts";
import { RUNTIME_MOUNT_POINT } from "../src/protocol/constants.ts";
import { parseSetup } from "../src/setup/grammar.ts";
import { waitForInitModules } from "../src/setup/init-pipe.ts";
import { setupSteps } from "../src/setup/plan.ts";
import { enterSwitchedRoot } from "../src/setup/steps/block-root.ts";
import { installCa } from "../src/setup/steps/ca.ts";
import { runSteps, SetupFailure } from "../src/setup/step.ts";
import { mount, MS_RDONLY, MS_REMOUNT } from "../src/sys/mount.ts";
import { powerOff, sync } from "../src/sys/system.ts";

/** Exit code for a fatal setup error; init/init.c powers off on it (EX_CONFIG). */
export const AGENTD_EXIT_SETUP = 78;
/** How long to wait for the port's device node after the modules were loaded. */
const PORT_WAIT_MS = 5000;

/**
 * How long after core.ready the signal handlers (main.ts), the heartbeat's first beat and the boot
 * line wait. A host that asks at once (agentctl, the client library) had its first request read
 * only after them: the first beat loads node:fs/promises (20-25 ms of this thread at boot under
 * TCG), the boot line took 11-12 ms and the signal handlers' process.on() 2-7 ms. Long enough for
 * that host's first exec, which runs agentd's exec path for the first time (60-120 ms cold), and
 * the first beat still comes well within the heartbeat's second (PROTOCOL.md §9).
 */
export const AFTER_READY_DEFER_MS = 250;

function fatal(step: string, reason: string): never {
  writeStderr(`agentd: setup failed: ${step}: ${reason}\n`);
  process.exit(AGENTD_EXIT_SETUP);
}

export interface GuestSetup {
  /** How long setup took, in ns (core.ready's init_time_ns). */
  ns: bigint;
  /** The port's reader, started before init's report was read (setUpGuest's `takePort`). */
  reader: PortReader | null;
  /**
   * The agent port as init found it, opened and handed to the reader before the steps ran
   * (`takePort`); null when init did not report it (agentd then looks itself: waitForPort).
   */
  port: OpenPort | null;
}

/**
 * Phase 1. Parses and checks every MSB_* variable before the first change, then runs the steps
 * (all of them, or the ids in `only`: tests of single steps). Variables that every exec must
 * inherit (the CA's) are put into agentd's own environment. With `takePort`, the port's reader
 * gets its shared buffers while init still loads the modules, and the port init reported is
 * opened and handed to it before the steps run: the reader then takes it over while this thread
 * runs them (port-link.ts's startPortReader and openPort).
 */
export function setUpGuest(only: readonly string[] | null = null, takePort = false): GuestSetup {
  const t0 = process.hrtime.bigint();
  const parsed = parseSetup(process.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) writeStderr(`agentd: setup failed: configuration: ${e.message}\n`);
    process.exit(AGENTD_EXIT_SETUP);
  }
  const exported: Record<string, string> = {};
  let reader: PortReader | null = null;
  let port: OpenPort | null = null;
  if (process.env["AGENTD_RESTARTS"]) {
    // init restarted us: the guest is set up; only find the root it was set up in.
    const switched = enterSwitchedRoot();
    log(
      "info",
      `restarted by init (${process.env["AGENTD_RESTARTS"]})${switched ? " in the switched root" : ""}; setup was done already`,
    );
    Object.assign(exported, installCa()?.env ?? {});
  } else {
    if (takePort) reader = startPortReader();
    const byInit = waitForInitModules();
    if (reader && byInit.port !== null) port = openPort(reader, byInit.port);
    const all = setupSteps(parsed.config, exported, byInit);
    // No filter() on the way to core.ready: its first call compiles the builtin (~5 ms, cstr.ts).
    const steps = only === null ? all : all.filter((s) => only.includes(s.id));
    try {
      runSteps(steps);
    } catch (e) {
      if (e instanceof SetupFailure) fatal(e.step, e.reason);
      fatal("setup", e instanceof Error ? e.message : String(e));
    }
  }
  Object.assign(process.env, exported);
  return { ns: process.hrtime.bigint() - t0, reader, port };
}

/**
 * The first port named `agent` to appear (when init did not report it), opened and handed to
 * `reader` (or to one started now).
 */
export async function waitForPort(reader: PortReader | null): Promise<OpenPort> {
  const deadline = Date.now() + PORT_WAIT_MS;
  for (;;) {
    const path = findPort();
    if (path) return openPort(reader ?? startPortReader(), path);
    if (Date.now() > deadline)
      fatal("agent port", "no virtio-console port named 'agent' (is virtio_console loaded?)");
    await Bun.sleep(20);
  }
}

/** The end of core.shutdown in the guest: flush, make / read-only, flush, and hand over to init. */
async function finishGuest(): Promise<void> {
  sync();
  // Processes just sent SIGKILL may still hold files open for writing (EBUSY): retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      mount("none", "/", null, MS_REMOUNT | MS_RDONLY);
      break;
    } catch (e) {
      if (attempt >= 20) {
        log("warn", `remount / read-only: ${(e as Error).message}`);
        break;
      }
      await Bun.sleep(25);
    }
  }
  sync();
  // init powers off when agentd exits 0; if init is gone (agentd run by hand as PID 1), do it here.
  if (process.pid === 1) powerOff();
  process.exit(0);
}

/**
 * Serves the host on `port`; `start` holds when Bun had started agentd and its port thread
 * (main.ts). `afterReady` runs once the reader has first reported, before any request is read;
 * `settled` AFTER_READY_DEFER_MS later, before the heartbeat's first beat.
 */
export function runGuestMode(
  config: AgentConfig,
  port: OpenPort,
  start: Pick<BootMarks, "firstLineMs" | "workerStartedMs">,
  afterReady: () => void,
  settled: () => void,
): Agent {
  // ready_time_ns is set when the port's reader first reports (port-link.ts).
  const agent = new Agent(config, finishGuest);
  servePort(port, agent, (writtenNs) => {
    afterReady();
    // The heartbeat and the boot line once a host that asked at once has its first answer.
    setTimeout(() => {
      settled();
      // The heartbeat's first beat first: its file operations run on the thread pool while the
      // boot line is written.
      startHeartbeat(RUNTIME_MOUNT_POINT, agent);
      const r = config.ready;
      const ms = (ns: number | bigint) => Number(ns) / 1e6;
      const marks = {
        ...start,
        mainMs: ms(r.boot_time_ns),
        setupMs: ms(r.init_time_ns),
        readyMs: ms(r.ready_time_ns),
        ...(writtenNs === null ? {} : { writtenMs: ms(writtenNs) }),
      };
      log("info", formatBootLine(marks));
    }, AFTER_READY_DEFER_MS);
  });
  return agent;
}
