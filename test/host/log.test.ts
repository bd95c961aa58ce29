/**
 * agentd's log never waits on stderr: a reader that stops reading (a console that does not drain)
 * costs counted log lines, never a stalled thread; fd 2 itself stays blocking for everyone who
 * shares it; a reader that is gone costs nothing.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LOG = join(import.meta.dir, "..", "..", "src/agent/log.ts");
const LINES = 10_000;

/** Logs LINES lines at once, then reports on stdout how long that took and fd 2's flags. */
const CHILD = `import { log } from ${JSON.stringify(LOG)};
import { readFileSync } from "node:fs";
const t = performance.now();
for (let i = 0; i < ${LINES}; i++) log("warn", "line " + i + " " + "x".repeat(100));
const ms = performance.now() - t;
const flags = /flags:\\s*(\\d+)/.exec(readFileSync("/proc/self/fdinfo/2", "utf8"))[1];
console.log(JSON.stringify({ ms, flags }));
await Bun.sleep(Number(process.env.LINGER_MS));`;

function run(
  stderrTo: string,
  lingerMs: number,
): { report: { ms: number; flags: string }; code: number | null } {
  const dir = mkdtempSync(join(tmpdir(), "agentd-log-"));
  const script = join(dir, "child.ts");
  writeFileSync(script, CHILD);
  // The child's stdout goes to the test; its stderr into a pipe whose reader is `stderrTo`;
  // pipefail: the exit status is the child's.
  const sh = `{ "$BUN" "$SCRIPT" 2>&1 1>&3 | ${stderrTo}; } 3>&1`;
  const r = Bun.spawnSync(["bash", "-o", "pipefail", "-c", sh], {
    env: {
      ...process.env,
      BUN: process.execPath,
      SCRIPT: script,
      OUT: join(dir, "stderr"),
      LINGER_MS: String(lingerMs),
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  return { report: JSON.parse(r.stdout.toString().trim()), code: r.exitCode };
}

test("10,000 lines into a stderr nobody reads for 3 s: no wait, whole lines in order, the rest counted", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-log-out-"));
  const out = join(dir, "stderr");
  const { report, code } = run(`{ sleep 3; cat; } > ${out}`, 3500);
  expect(code).toBe(0);
  // A blocking write would have waited the 3 s out (and more: 1.1 MB through a 64 KiB pipe).
  expect(report.ms).toBeLessThan(2500);
  // O_NONBLOCK (04000) is on agentd's own description of the pipe, not on fd 2's.
  expect(Number.parseInt(report.flags, 8) & 0o4000).toBe(0);
  const lines = readFileSync(out, "utf8").trimEnd().split("\n");
  const notes = lines.filter((l) => l.includes("dropped"));
  expect(notes).toHaveLength(1);
  const dropped = Number(/(\d+) log line\(s\) dropped: stderr did not take them$/.exec(notes[0]!)?.[1]);
  const kept = lines.filter((l) => !l.includes("dropped"));
  expect(kept.length + dropped).toBe(LINES);
  // What fits in the pipe and the queue (64 KiB each) is kept: about 1,100 lines of 115 bytes.
  expect(kept.length).toBeGreaterThan(1000);
  let last = -1;
  for (const l of kept) {
    const m = /^agentd: warn: line (\d+) x{100}$/.exec(l);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(last);
    last = Number(m![1]);
  }
  // The count comes after every line kept before the drop.
  expect(lines.at(-1)).toBe(notes[0]);
});

test("a stderr whose reader is gone: lines are given up, the process goes on and exits normally", () => {
  const { report, code } = run("true", 200);
  expect(code).toBe(0); // not 141: SIGPIPE did not end it
  expect(report.ms).toBeLessThan(2500);
});

test("flushLog writes what waits for the console even when the event loop never runs again", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-log-flush-"));
  const script = join(dir, "child.ts");
  const out = join(dir, "stderr");
  // 1,000 lines: more than the pipe holds, less than the pipe and the queue together. SIGKILL
  // afterwards: no exit handler, no timer; only what flushLog wrote arrives.
  writeFileSync(
    script,
    `import { flushLog, log } from ${JSON.stringify(LOG)};
for (let i = 0; i < 1000; i++) log("warn", "line " + i + " " + "x".repeat(100));
flushLog(10_000);
process.kill(process.pid, "SIGKILL");`,
  );
  Bun.spawnSync(["bash", "-c", `"$BUN" "$SCRIPT" 2>&1 | { sleep 1; cat; } > "$OUT"`], {
    env: { ...process.env, BUN: process.execPath, SCRIPT: script, OUT: out },
  });
  const lines = readFileSync(out, "utf8").trimEnd().split("\n");
  expect(lines).toHaveLength(1000);
  expect(lines[999]).toBe(`agentd: warn: line 999 ${"x".repeat(100)}`);
});
