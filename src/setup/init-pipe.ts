/**
 * init's modules pipe (init/init.c): init starts agentd before it loads the kernel modules, writes
 * what it set up itself on this pipe (src/setup/init-report.ts) and closes it once the modules
 * are loaded. Its descriptor comes in AGENTD_MODULES_FD.
 */
import { log } from "../agent/log.ts";
import { readFd } from "../sys/fd-io.ts";
import { closeFd } from "../sys/libc.ts";
import { NOTHING_REPORTED, parseInitReport, type InitReport } from "./init-report.ts";

/** init/init.c: the descriptor of the pipe it closes once the kernel modules are loaded. */
export const MODULES_FD_ENV = "AGENTD_MODULES_FD";

/** More than init ever writes (init-report.ts); the rest would be dropped. */
const INIT_REPORT_MAX = 4096;

/**
 * init loads the kernel modules while Bun starts (the two take about as long under TCG); every
 * setup step may need one (virtio devices, virtiofs, ext4), so setup waits for init's end of
 * file here, and takes what init reports it set up itself. A blocking read on the main thread:
 * nothing else runs yet, and a SIGTERM is taken as soon as the read returns. Without the
 * variable (host mode, a restart) there is no wait and no report; after a failed read, no report
 * either (setup then does every step).
 */
export function waitForInitModules(): InitReport {
  const raw = process.env[MODULES_FD_ENV];
  delete process.env[MODULES_FD_ENV];
  const fd = Number(raw);
  if (raw === undefined || !Number.isInteger(fd) || fd < 3) return NOTHING_REPORTED;
  const buf = new Uint8Array(INIT_REPORT_MAX);
  const dropped = new Uint8Array(64);
  let filled = 0;
  try {
    for (;;) {
      // Once buf is full, later bytes go to `dropped` (never over the report), until end of file.
      const full = filled === buf.length;
      const n = readFd(fd, full ? dropped : buf.subarray(filled), "init's modules pipe");
      if (n === 0) break;
      if (n > 0 && !full) filled += n;
    }
  } catch (e) {
    log("warn", `waiting for init's modules: ${(e as Error).message}`);
    return NOTHING_REPORTED;
  } finally {
    closeFd(fd);
  }
  return parseInitReport(new TextDecoder().decode(buf.subarray(0, filled)));
}
