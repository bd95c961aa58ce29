/**
 * agentd's log: one line per event on stderr (the guest console, or the test's pipe), prefixed
 * so it can be told apart from the kernel's messages. Never throws, never waits.
 */
import { StderrSink } from "../sys/stderr.ts";
import { LogQueue } from "./log-queue.ts";

export type Level = "info" | "warn" | "error";

/** How long lines still queued at exit may wait for the console before they are given up. */
const EXIT_FLUSH_MS = 1000;

const encoder = new TextEncoder();
let queue: LogQueue | null | undefined;

/**
 * Each thread (module state is per thread) opens its own non-blocking stderr on its first line.
 * Not process.stderr: its first use loads Bun's stream modules, 80-100 ms under TCG on each
 * thread that logs before core.ready; and not a blocking write(2) on fd 2, which waits while the
 * serial console drains (see docs/performance.md).
 */
function logQueue(): LogQueue | null {
  if (queue !== undefined) return queue;
  const sink = StderrSink.open();
  queue = sink ? new LogQueue(sink) : null;
  if (queue) {
    const q = queue;
    process.once("exit", () => q.flush(EXIT_FLUSH_MS));
  }
  return queue;
}

/**
 * Writes what waits for the console, waiting up to `ms` for room. For a thread about to stop
 * running its event loop (the port thread, whose loop blocks in poll(2) from then on): the
 * queue's retry timer would not fire there again.
 */
export function flushLog(ms = 0): void {
  try {
    if (queue) queue.flush(ms);
  } catch {
    // As for a line: nothing sensible left to do.
  }
}

/** The one place agentd writes to stderr (log lines, setup failures, usage). */
export function writeStderr(text: string): void {
  try {
    const q = logQueue();
    if (q) q.push(encoder.encode(text));
    else process.stderr.write(text); // no /proc or a socket as stderr (host tools' tests)
  } catch {
    // stderr gone (console closed): nothing sensible left to do with a log line.
  }
}

let quiet = false;

/** Silences info lines (benchmarks); warnings and errors are always written. */
export function setQuiet(value: boolean): void {
  quiet = value;
}

export function log(level: Level, message: string): void {
  if (quiet && level === "info") return;
  writeStderr(`agentd: ${level === "info" ? "" : level + ": "}${message}\n`);
}
