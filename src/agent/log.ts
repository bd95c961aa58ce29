/**
 * agentd's log: one line per event on stderr (the guest console, or the test's pipe), prefixed
 * so it can be told apart from the kernel's messages. Never throws.
 */
export type Level = "info" | "warn" | "error";

/**
 * Writes to stderr through process.stderr. (Writing with write(2) itself, which saved the 80-100
 * ms that process.stderr's first use costs each thread under TCG, was taken back: a CI run's fuzz
 * test, which logs a line per bad frame, hung, and a log write that blocks while the console does
 * not drain is the suspect; see docs/performance.md.) Never throws.
 */
export function writeStderr(text: string): void {
  try {
    process.stderr.write(text);
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
