/** Small helpers shared by the benchmarks: percentiles, timing, RSS sampling, table printing. */
import { readFileSync } from "node:fs";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The middle of `xs` (not sorted; the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs `once` n times one after another; the time of each, in ms, sorted. */
export async function timeEach(n: number, once: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

export function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0");
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 25 ms until stopped; returns the peak in KiB. */
export function sampleRss(pid: number): { stop(): number } {
  let peak = rssKiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 25);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssKiB(pid));
    },
  };
}

export interface Row {
  metric: string;
  value: number;
  unit: string;
  limit?: number;
  note?: string;
}

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log("| metric | value | limit | ratio | note |\n|---|---|---|---|---|");
  for (const r of rows) {
    const ratio = r.limit ? `${((r.value / r.limit) * 100).toFixed(0)}%` : "";
    const limit = r.limit ? `${r.limit.toFixed(1)} ${r.unit}` : "";
    console.log(`| ${r.metric} | ${r.value.toFixed(2)} ${r.unit} | ${limit} | ${ratio} | ${r.note ?? ""} |`);
  }
}
