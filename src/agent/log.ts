/**
 * agentd's log: one line per event on stderr (the guest console, or the test's pipe), prefixed
 * so it can be told apart from the kernel's messages. Never throws.
 */
import { writeSync } from "node:fs";

export type Level = "info" | "warn" | "error";

/**
 * Writes to stderr with write(2) itself. process.stderr is a Node stream, and its first use loads
 * Bun's stream modules: 80-100 ms under TCG on each thread that logs, and both the main thread
 * and the port thread log before core.ready. Like a C program's, the write blocks while stderr
 * (the console, a pipe) does; a line that cannot be written is dropped. Never throws.
 */
export function writeStderr(text: string): void {
  try {
    writeSync(2, text);
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
