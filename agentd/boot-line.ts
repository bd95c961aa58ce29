/**
 * The console line in which guest mode reports where its start went, on the kernel's clock
 * (CLOCK_BOOTTIME, ms): the first line of agentd's JavaScript (Bun's own start before it), the
 * port thread's Worker constructed (Bun's constructor sets up its nextTick queue, the costliest
 * step of a Bun agent's start), agentd's main (its modules evaluated, libc opened), setup's
 * duration, the reader's first report (core.ready's ready_time_ns) and, when a host was there
 * then, the moment core.ready's write to the port returned (the frame is made after the stamp it
 * carries: under TCG that took 12-19 ms at boot). bench/vm.ts reads it to split boot-to-ready
 * into Bun's part and agentd's, and holds the written mark against the target.
 */

export interface BootMarks {
  firstLineMs: number;
  workerStartedMs: number;
  mainMs: number;
  setupMs: number;
  readyMs: number;
  /** core.ready written to the port; absent when no host was there at the first report. */
  writtenMs?: number;
}

const PREFIX = "boot (ms since the kernel started): ";
const FIELDS = [
  ["first line", "firstLineMs"],
  ["port thread started", "workerStartedMs"],
  ["main", "mainMs"],
  ["setup", "setupMs"],
  ["ready", "readyMs"],
] as const;
const WRITTEN = "written";

export function formatBootLine(m: BootMarks): string {
  const written = m.writtenMs === undefined ? "" : `, ${WRITTEN} ${m.writtenMs.toFixed(1)}`;
  return PREFIX + FIELDS.map(([name, key]) => `${name} ${m[key].toFixed(1)}`).join(", ") + written;
}

/** The marks of the last boot line in `console`, or null when there is none. */
export function parseBootLine(console: string): BootMarks | null {
  const at = console.lastIndexOf(PREFIX);
  if (at < 0) return null;
  const line = console.slice(at + PREFIX.length).split("\n")[0]!;
  const out: Partial<Record<keyof BootMarks, number>> = {};
  for (const part of line.split(", ")) {
    const space = part.lastIndexOf(" ");
    const name = part.slice(0, space);
    const key = name === WRITTEN ? "writtenMs" : FIELDS.find(([n]) => n === name)?.[1];
    const value = Number(part.slice(space + 1));
    if (!key || !Number.isFinite(value)) return null;
    out[key] = value;
  }
  return FIELDS.every(([, key]) => out[key] !== undefined) ? (out as BootMarks) : null;
}
