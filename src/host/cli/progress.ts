/**
 * The progress line of `agentctl cp`: bytes, rate and time left, redrawn in place on a terminal
 * at most ten times a second. `formatProgress` is pure so its output is tested exactly.
 */
import type { CopyProgress } from "../tree-copy.ts";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** One progress line for `p` after `elapsed` seconds, fitted to `width` columns. */
export function formatProgress(p: CopyProgress, elapsed: number, width: number): string {
  const rate = elapsed > 0 ? p.done / elapsed : 0;
  const files = p.filesTotal > 1 ? `  ${p.filesDone}/${p.filesTotal} files` : "";
  if (p.total === null || p.total === 0) {
    return `${formatBytes(p.done)}  ${formatBytes(rate)}/s${files}`.slice(0, width);
  }
  const frac = Math.min(1, p.done / p.total);
  const left = rate > 0 ? (p.total - p.done) / rate : Infinity;
  const tail =
    ` ${String(Math.floor(frac * 100)).padStart(3)}%  ${formatBytes(p.done)} / ${formatBytes(p.total)}` +
    `  ${formatBytes(rate)}/s  ${formatDuration(left)} left${files}`;
  const barWidth = Math.max(0, Math.min(30, width - tail.length - 2));
  const filled = Math.round(frac * barWidth);
  const bar = barWidth > 0 ? `[${"#".repeat(filled)}${" ".repeat(barWidth - filled)}]` : "";
  return (bar + tail).slice(0, width);
}

/** Draws progress on a terminal stream; a no-op sink elsewhere. */
export class ProgressLine {
  #start = performance.now();
  #last = 0;
  #latest: CopyProgress | null = null;
  constructor(private readonly out: NodeJS.WriteStream) {}

  update = (p: CopyProgress): void => {
    this.#latest = p;
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    this.#draw();
  };

  #draw(): void {
    if (!this.#latest) return;
    const width = (this.out.columns || 80) - 1;
    this.out.write(
      `\r\x1b[K${formatProgress(this.#latest, (performance.now() - this.#start) / 1000, width)}`,
    );
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.#latest) return;
    this.#draw();
    this.out.write("\n");
  }
}
