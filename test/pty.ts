/**
 * Runs a shell command line under a real pseudo-terminal (Bun's terminal support: the child is a
 * session leader with the PTY as its controlling tty, as in a terminal emulator), so agentctl's
 * raw mode, SIGWINCH and restore are tested against the kernel's tty layer, not a mock.
 */
import { expect } from "bun:test";
import type { Subprocess } from "bun";

export interface PtyRun {
  proc: Subprocess;
  /** Everything the terminal showed so far (raw bytes as latin1 text). */
  screen(): string;
  type(keys: string): void;
  resize(rows: number, cols: number): void;
  /** Waits until the screen (after `from`) matches; throws with the screen on timeout. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  exited: Promise<number>;
}

export function runInPty(script: string, env: Record<string, string> = {}, rows = 24, cols = 80): PtyRun {
  let out = "";
  const proc = Bun.spawn(["sh", "-c", script], {
    env: { ...process.env, TERM: "xterm", ...env },
    terminal: { rows, cols, data: (_t, d) => void (out += Buffer.from(d).toString("latin1")) },
  });
  return {
    proc,
    screen: () => out,
    type: (keys) => void proc.terminal!.write(keys),
    resize: (r, c) => proc.terminal!.resize(c, r),
    async waitFor(re, timeoutMs = 10_000, from = 0) {
      const end = performance.now() + timeoutMs;
      for (;;) {
        const m = out.slice(from).match(re);
        if (m) return m;
        if (performance.now() > end)
          throw new Error(`timed out waiting for ${re} on the terminal; it shows:\n${JSON.stringify(out)}`);
        await Bun.sleep(20);
      }
    },
    exited: proc.exited,
  };
}

/** `stty -g` before and after a command inside the PTY: a script prefix and the check. */
export const STTY_AROUND = (cmd: string) =>
  `echo "BEFORE[$(stty -g)]"; ${cmd}; echo "RC[$?]"; echo "AFTER[$(stty -g)]"`;

/** The terminal's mode (`stty -g`) after the command is the one it had before. */
export function expectTerminalRestored(screen: string): void {
  const before = /BEFORE\[([^\]]*)\]/.exec(screen)?.[1];
  const after = /AFTER\[([^\]]*)\]/.exec(screen)?.[1];
  expect(before).toBeDefined();
  expect(after).toBe(before);
}
