/**
 * The least a Bun agent of agentd's design does at boot before core.ready, built from agentd's
 * own modules: its port thread's Worker started first with its shared buffers (agentd/early.ts),
 * libc opened, the reader given its wake pipe, init's report read, the port opened and handed to
 * the reader, the reader's first round taken, core.ready encoded and written. No setup steps, no agent, no
 * configuration. bench/vm.ts boots an image with this in agentd's place and holds its core.ready
 * against the same target as agentd's, in the same run.
 *
 * After core.ready it prints agentd's boot line (agentd/boot-line.ts) and the kernel's stamp of
 * init's start, then exits 0, on which init powers the guest off.
 */
import { startMarks } from "../../agentd/early.ts";
import { bootTimeNs } from "../../src/sys/clock.ts";
const mainNs = bootTimeNs();
/** performance.now() on the kernel's clock (ms), from one reading of both. */
const perfToBootMs = Number(mainNs) / 1e6 - performance.now();

import { nodeFs } from "../../src/lazy-node.ts";
import { formatBootLine } from "../../agentd/boot-line.ts";
import { log, writeStderr } from "../../src/agent/log.ts";
import { findPort } from "../../src/agent/port/find-port.ts";
import { openPort, startPortReader } from "../../src/agent/port/port-link.ts";
import { FIRST_ROUND, FIRST_ROUND_UP } from "../../src/agent/port/port-lock.ts";
import { encodeReadyFrame } from "../../src/protocol/ready-frame.ts";
import { waitForInitModules } from "../../src/setup/init-pipe.ts";
import { INIT_LINE } from "./line.ts";

function main(): void {
  const reader = startPortReader();
  const path = waitForInitModules().port ?? findPort();
  if (path === null) {
    writeStderr("ready-floor: no port named 'agent'\n");
    process.exit(1);
  }
  const { link } = openPort(reader, path);
  Atomics.wait(reader.flags, FIRST_ROUND, 0, 2000);
  const readyNs = bootTimeNs();
  if (Atomics.load(reader.flags, FIRST_ROUND) !== FIRST_ROUND_UP) {
    writeStderr("ready-floor: no host on the port at the first round\n");
    process.exit(1);
  }
  const ready = { boot_time_ns: mainNs, init_time_ns: 0n, ready_time_ns: readyNs };
  // Nothing else writes to the port yet, so begin() holds and the port takes the frame whole.
  link.begin?.();
  link.write(encodeReadyFrame(ready));
  link.release?.();
  const writtenNs = bootTimeNs();
  const ms = (ns: bigint) => Number(ns) / 1e6;
  log(
    "info",
    formatBootLine({
      firstLineMs: startMarks.firstLine + perfToBootMs,
      workerStartedMs: startMarks.workerStarted + perfToBootMs,
      mainMs: ms(mainNs),
      setupMs: ms(mainNs),
      readyMs: ms(readyNs),
      writtenMs: ms(writtenNs),
    }),
  );
  writeStderr(`${INIT_LINE}${initStartMs().toFixed(1)}\n`);
  // Long enough for the host's relay to have passed core.ready on before the guest goes away.
  setTimeout(() => process.exit(0), 500);
}

/**
 * When the kernel started init, from its log ("Run /init as init process", stamped in µs as
 * dmesg shows it), read without waiting from /dev/kmsg: one record per read(2).
 */
function initStartMs(): number {
  const { closeSync, constants, openSync, readSync } = nodeFs();
  const fd = openSync("/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
  const record = Buffer.alloc(8192);
  try {
    for (;;) {
      const n = readSync(fd, record, 0, record.length, null);
      const text = record.toString("utf8", 0, n);
      // "<prio>,<seq>,<µs>,<flags>;<message>"
      if (text.includes("Run /init as init process")) return Number(text.split(",")[2]) / 1000;
    }
  } catch {
    return NaN; // EAGAIN: the end of the log, without the line
  } finally {
    closeSync(fd);
  }
}

main();
