/**
 * The console line in which guest mode reports where its start went, on the kernel's clock
 * (CLOCK_BOOTTIME, ms): the first line of agentd's JavaScript (Bun's own start before it), the
 * port thread's Worker constructed (Bun's constructor sets up its nextTick queue, the costliest
 * step of a Bun agent's start), agentd's main (its modules evaluated, libc opened), setup's
 * duration, and the reader's first report (core.ready's ready_time_ns). bench/vm.ts reads it to
 * split boot-to-ready into Bun's part and agentd's.
 */

export interface BootMarks {
  firstLineMs: number;
  workerStartedMs: number;
  mainMs: number;
  setupMs: number;
  readyMs: number;
}

const PREFIX = "boot (ms since the kernel started): ";
const FIELDS = [
  ["first line", "firstLineMs"],
  ["port thread started", "workerStartedMs"],
  ["main", "mainMs"],
  ["setup", "setupMs"],
  ["ready", "readyMs"],
] as const;

export function formatBootLine(m: BootMarks): string {
  return PREFIX + FIELDS.map(([name, key]) => `${name} ${m[key].toFixed(1)}`).join(", ");
}

/** The marks of the last boot line in `console`, or null when there is none. */
export function parseBootLine(console: string): BootMarks | null {
  const at = console.lastIndexOf(PREFIX);
  if (at < 0) return null;
  const line = console.slice(at + PREFIX.length).split("\n")[0]!;
  const out: Partial<Record<keyof BootMarks, number>> = {};
  for (const part of line.split(", ")) {
    const space = part.lastIndexOf(" ");
    const field = FIELDS.find(([name]) => name === part.slice(0, space));
    const value = Number(part.slice(space + 1));
    if (!field || !Number.isFinite(value)) return null;
    out[field[1]] = value;
  }
  return FIELDS.every(([, key]) => out[key] !== undefined) ? (out as BootMarks) : null;
}
