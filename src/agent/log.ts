/**
 * agentd's log: one line per event on stderr (the guest console, or the test's pipe), prefixed
 * so it can be told apart from the kernel's messages. Never throws.
 */
export type Level = "info" | "warn" | "error";

/**
 * The one place agentd writes to stderr (log lines, setup failures, usage). Never throws. (A
 * write(2) here instead would spare each thread the 80-100 ms under TCG that process.stderr's
 * first use costs, but a blocking write is the suspect in a CI run where agentd stalled; see
 * docs/performance.md.)
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
