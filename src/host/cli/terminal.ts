/**
 * The local end of an exec session: keystrokes or piped bytes to the command's stdin, and for a
 * tty session the local terminal in raw mode with its size forwarded. Raw mode is undone on every
 * way out: a normal return, a throw, a lost connection, SIGTERM/SIGHUP/SIGINT/SIGQUIT sent to
 * agentctl, and process exit. A terminal left in raw mode (no echo, no line editing) is the one
 * failure a user cannot easily recover from, so each path restores it.
 */
import { makeRaw, setMode } from "../../sys/termios.ts";
import type { ExecHandle } from "../exec-handle.ts";

const FATAL_SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as const;

export interface LocalTerminal {
  /** Undoes raw mode and every handler; idempotent. */
  restore(): void;
}

/** The size to ask for: the local terminal's, else the usual 24x80. */
export function localSize(): { rows: number; cols: number } {
  const out = process.stdout;
  return out.isTTY && out.rows > 0 ? { rows: out.rows, cols: out.columns } : { rows: 24, cols: 80 };
}

/**
 * Connects the local stdin (and, with `tty`, the local terminal) to a session. Without a local
 * terminal a tty session still works (like `ssh -tt`): bytes pass through, EOF sends ^D.
 */
export function attachLocal(handle: ExecHandle, tty: boolean): LocalTerminal {
  const stdin = process.stdin;
  const undo: (() => void)[] = [];
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    // In the order they were set up: raw mode first, while stdin is still open.
    for (const u of undo) {
      try {
        u();
      } catch {
        // The terminal may be gone (hang-up); nothing left to restore then.
      }
    }
  };
  const on = (event: string, fn: (...a: never[]) => void) => {
    process.on(event as "exit", fn as () => void);
    undo.push(() => process.off(event as "exit", fn as () => void));
  };

  if (tty && stdin.isTTY) {
    const saved = makeRaw(0);
    undo.push(() => setMode(0, saved));
    on("exit", restore);
    for (const [name, num] of Object.entries(FATAL_SIGNALS)) {
      on(name, () => {
        restore();
        process.exit(128 + num);
      });
    }
  }
  if (tty && process.stdout.isTTY) {
    on("SIGWINCH", () => {
      const { rows, cols } = localSize();
      handle.resize(rows, cols);
    });
  }

  if (stdin.isTTY && !tty) {
    // An interactive terminal but no tty session: the command gets no stdin, as with `docker exec`
    // without -i; waiting for keystrokes nobody means to type would hang scripts.
    void handle.closeStdin().catch(() => {});
  } else {
    const onData = (chunk: Buffer) => {
      stdin.pause();
      handle.write(chunk).then(
        () => stdin.resume(),
        () => {},
      );
    };
    const onEnd = () => void handle.closeStdin().catch(() => {});
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    undo.push(() => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
      stdin.destroy();
    });
  }
  return { restore };
}
