/**
 * Starts a session's process through the exec helper, with pipes or a PTY. A spawn either
 * yields a running child whose exec has succeeded, or a plain message saying why it could not
 * run: the helper reports a failed exec on a close-on-exec status pipe (fd 3), so a command that
 * merely exits 127 is never mistaken for one that did not start.
 */
import { close as fsClose, read as fsRead } from "node:fs";
import { constants as osConstants } from "node:os";
import type { Subprocess } from "bun";
import { outputPipe } from "../../sys/fd-io.ts";
import { closeFd, closeOnExecAll, dup, setBlocking } from "../../sys/libc.ts";
import { PIPE_CAPACITY } from "./pump.ts";

export interface SpawnPlan {
  /** Full argv: helper, its options, `--`, command, arguments. */
  argv: string[];
  env: Record<string, string>;
  command: string;
  tty: { rows: number; cols: number; onData: (data: Uint8Array) => void; onClose: () => void } | null;
}

/** The read ends of a piped child's stdout and stderr, agentd's to read and close. */
export interface OutputFds {
  stdout: number;
  stderr: number;
}

export type SpawnResult =
  | { ok: true; proc: Subprocess; output: OutputFds | null }
  | { ok: false; message: string };

/** How the process ended: the exit status, or -1 and the signal that killed it. */
export interface ExitStatus {
  code: number;
  signal: number | null;
}

const STATUS_LIMIT = 4096;

/**
 * Takes our own descriptor for the helper's status channel, synchronously right after the
 * spawn. Bun closes its descriptor when the process exits; reading that one would race the close
 * and, once the number is reused, read another session's channel. A dup is ours alone to close.
 */
function ownStatusFd(fd: number): number {
  const own = dup(fd);
  // Bun makes the channel non-blocking; our read runs on a threadpool thread and must wait.
  setBlocking(own);
  return own;
}

/** Reads the helper's status pipe to EOF: empty means exec succeeded. */
function readStatus(fd: number): Promise<string> {
  return new Promise((resolve) => {
    const buf = Buffer.alloc(STATUS_LIMIT);
    let got = 0;
    const finish = () => fsClose(fd, () => resolve(buf.subarray(0, got).toString("utf8").trim()));
    const step = () =>
      fsRead(fd, buf, got, STATUS_LIMIT - got, null, (error, n) => {
        if (error || n === 0) return finish();
        got += n;
        if (got >= STATUS_LIMIT) return finish();
        step();
      });
    step();
  });
}

function errnoText(e: unknown): string {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === "ENOENT") return "No such file or directory";
  if (code === "EACCES") return "Permission denied";
  return message;
}

/**
 * Checks that the command can be found before spawning: in a PTY the helper's status pipe is
 * not available (Bun gives a terminal child only fds 0-2), so this is what makes a missing
 * command a spawn failure there too.
 */
function findCommand(command: string, env: Record<string, string>): string | null {
  if (command.includes("/")) return command;
  return Bun.which(command, { PATH: env["PATH"] ?? "" });
}

export async function spawnChild(plan: SpawnPlan): Promise<SpawnResult> {
  if (findCommand(plan.command, plan.env) === null) {
    return { ok: false, message: `cannot run '${plan.command}': No such file or directory` };
  }
  try {
    if (plan.tty) {
      const { rows, cols, onData, onClose } = plan.tty;
      const proc = Bun.spawn(plan.argv, {
        env: plan.env,
        terminal: { rows, cols, data: (_t, data) => onData(data), exit: () => onClose() },
      });
      // Bun opens the PTY master without O_CLOEXEC; later children must not inherit it.
      closeOnExecAll();
      return { ok: true, proc, output: null };
    }
    return await spawnPiped(plan);
  } catch (e) {
    return { ok: false, message: `cannot run '${plan.command}': ${errnoText(e)}` };
  }
}

/**
 * stdout and stderr are pipes agentd makes itself (see pump.ts); the child gets their write ends,
 * agentd closes its copies right after the spawn, so the pipes end when the child's side closes.
 */
async function spawnPiped(plan: SpawnPlan): Promise<SpawnResult> {
  const [outRead, outWrite] = outputPipe(PIPE_CAPACITY);
  let errPipe: [number, number];
  try {
    errPipe = outputPipe(PIPE_CAPACITY);
  } catch (e) {
    closeFd(outRead);
    closeFd(outWrite);
    throw e;
  }
  const [errRead, errWrite] = errPipe;
  let proc: Subprocess;
  try {
    proc = Bun.spawn(plan.argv, {
      env: plan.env,
      // fd 3 is the helper's status pipe.
      stdio: ["pipe", outWrite, errWrite, "pipe"],
      // setsid: the child leads its own process group, so signals reach a whole pipeline.
      detached: true,
    });
  } catch (e) {
    closeFd(outRead);
    closeFd(errRead);
    throw e;
  } finally {
    closeFd(outWrite);
    closeFd(errWrite);
  }
  const status = await readStatus(ownStatusFd(proc.stdio[3] as number));
  if (status !== "") {
    closeFd(outRead);
    closeFd(errRead);
    await proc.exited;
    return { ok: false, message: status };
  }
  return { ok: true, proc, output: { stdout: outRead, stderr: errRead } };
}

/** The exit status of a finished process. */
export async function exitStatus(proc: Subprocess): Promise<ExitStatus> {
  const code = await proc.exited;
  if (proc.signalCode) {
    const n = (osConstants.signals as Record<string, number>)[proc.signalCode];
    return { code: -1, signal: n ?? null };
  }
  return { code: proc.exitCode ?? code, signal: null };
}
