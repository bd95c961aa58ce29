/**
 * agentd's log: one line per event on stderr (the guest console, or the test's pipe), prefixed
 * so it can be told apart from the kernel's messages. Never throws.
 */
export type Level = "info" | "warn" | "error";

let quiet = false;

/** Silences info lines (benchmarks); warnings and errors are always written. */
export function setQuiet(value: boolean): void {
  quiet = value;
}

export function log(level: Level, message: string): void {
  if (quiet && level === "info") return;
  try {
    process.stderr.write(`agentd: ${level === "info" ? "" : level + ": "}${message}\n`);
  } catch {
    // stderr gone (console closed): nothing sensible left to do with a log line.
  }
}
