/**
 * agentd's first module (main.ts imports it before anything else): in guest mode it starts the
 * port reader's Worker, its shared buffers posted to it, before the rest of agentd is even loaded
 * (see port/reader-start.ts), and notes when its constructor returned (performance.now(): libc,
 * and so the kernel's clock, is not open yet; main.ts maps these onto it for the boot line,
 * boot-line.ts).
 */
import { startReader } from "../src/agent/port/reader-start.ts";
import { parseArgs } from "./args.ts";

export const startMarks = { firstLine: performance.now(), workerStarted: NaN };
/** agentd's arguments, parsed once here (main.ts takes them from here). */
export const startArgs = parseArgs(process.argv.slice(2));
const guest =
  startArgs.ok && startArgs.value.socket === null && !startArgs.value.setupOnly && !startArgs.value.help;
if (guest) {
  startMarks.workerStarted = startReader().constructedMs;
}
