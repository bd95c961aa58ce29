/**
 * Starts a session's process through the exec helper, with pipes or a PTY. A spawn either
 * yields a running child whose exec has succeeded, or a plain message saying why it could not
 * run: the helper reports a failed exec on a close-on-exec status pipe (fd 3), so a command that
 * merely exits 127 is never mistaken for one that did not start.
 */
import { nodeOs } from "../../lazy-node.ts";
import type { Subprocess } from "bun";
import { inputPipe, outputPipe } from "../../sys/fd-io.ts";
import { closeOnExecAll } from "../../sys/files.ts";
import { closeFd } from "../../sys/libc.ts";
import { PIPE_CAPACITY } from "./pump.ts";

export interface SpawnPlan {
  /** Full argv: helper, its options, `--`, command, arguments. */
  argv: string[];
  env: Record<string, string>;
  command: string;
  tty: { rows: number; cols: number; onData: (data: Uint8Array) => void; onClose: () => void } | null;
}

/**
 * agentd's ends of a piped child's pipes: the read ends of stdout and stderr and the write end
 * of stdin, agentd's to use and close.
 */
export interface OutputFds {
  stdin: number;
  stdout: number;
  stderr: number;
}

export type SpawnResult =
  { ok: true; proc: Subprocess; output: OutputFds | null } | { ok: false; message: string };

/** How the process ended: the exit status, or -1 and the signal that killed it. */
export interface ExitStatus {
  code: number;
  signal: number | null;
}

const STATUS_LIMIT = 4096;

/**
 * Reads the helper's status pipe (agentd's own, non-blocking read end) to its end: empty means
 * the exec succeeded (the write end was close-on-exec), else the helper's message (one line of
 * at most 1 KiB, then it exits). Bun's own reader waits for the pipe in its I/O poller and holds
 * no thread while a helper is slow to exec; the output poller's Worker did the same job a thread
 * hop away, ~3 ms more per exec in the guest (status wait 12-13 -> 9-10 ms, two guests each).
 */
async function readStatus(fd: number): Promise<string> {
  try {
    const bytes = await Bun.file(fd).bytes();
    return new TextDecoder().decode(bytes.subarray(0, STATUS_LIMIT)).trim();
  } catch {
    // A failed read ends the status like an end of file; the exit status still tells.
    return "";
  } finally {
    closeFd(fd);
  }
}

/** The reason in a spawn error, in the words the shell would use. */
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

/**
 * Spawns in progress at once. A spawn holds Bun's process machinery, three pipes and the
 * helper's status wait until the command has exec'd; 200 requests arriving together all spawned
 * at once took agentd's RSS past 64 MiB in the guest. Spawning is CPU-bound under TCG anyway, so
 * running a few at a time does not make a burst finish later; sessions past the spawn are not
 * limited.
 */
export const MAX_SPAWNING = 8;
/** How long one spawn may hold its turn. */
const SPAWN_TURN_MAX_MS = 5000;
let spawning = 0;
const spawnQueue: (() => void)[] = [];

/**
 * Waits for a spawn turn, in order of asking; call what it returns (once) when the spawn is
 * over. A finished turn goes straight to the next in line, so a newcomer cannot take it first.
 */
export function spawnTurn(): Promise<() => void> {
  let returned = false;
  const done = () => {
    if (returned) return;
    returned = true;
    const next = spawnQueue.shift();
    if (next) next();
    else spawning--;
  };
  if (spawning < MAX_SPAWNING) {
    spawning++;
    return Promise.resolve(done);
  }
  return new Promise((resolve) => spawnQueue.push(() => resolve(done)));
}

export async function spawnChild(plan: SpawnPlan): Promise<SpawnResult> {
  // Piped children need no look-up here: the helper's execvp failing says the same on fd 3.
  if (plan.tty && findCommand(plan.command, plan.env) === null) {
    return { ok: false, message: `cannot run '${plan.command}': No such file or directory` };
  }
  const done = await spawnTurn();
  // A spawn stuck in the kernel (an exec or a working directory on a hung filesystem) gives its
  // turn back after a while, so it cannot stop every other exec.
  const stuck = setTimeout(done, SPAWN_TURN_MAX_MS);
  try {
    return await spawnNow(plan);
  } finally {
    clearTimeout(stuck);
    done();
  }
}

async function spawnNow(plan: SpawnPlan): Promise<SpawnResult> {
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
 * stdin, stdout and stderr are pipes agentd makes itself (see pump.ts and stdin-writer.ts); the
 * child gets its ends, agentd closes its copies of those right after the spawn, so the pipes end
 * when the child's side closes.
 */
async function spawnPiped(plan: SpawnPlan): Promise<SpawnResult> {
  const opened: number[] = [];
  const pipe = (capacity: number, make = outputPipe) => {
    const fds = make(capacity);
    opened.push(...fds);
    return fds;
  };
  let proc: Subprocess;
  let ours: number[];
  try {
    const [inRead, inWrite] = pipe(PIPE_CAPACITY, inputPipe);
    const [outRead, outWrite] = pipe(PIPE_CAPACITY);
    const [errRead, errWrite] = pipe(PIPE_CAPACITY);
    // fd 3: the helper's status pipe; a page is plenty for its one message.
    const [statusRead, statusWrite] = pipe(STATUS_LIMIT);
    ours = [inWrite, outRead, errRead, statusRead];
    proc = Bun.spawn(plan.argv, {
      env: plan.env,
      stdio: [inRead, outWrite, errWrite, statusWrite],
      // setsid: the child leads its own process group, so signals reach a whole pipeline.
      detached: true,
    });
  } catch (e) {
    for (const fd of opened) closeFd(fd);
    throw e;
  }
  // The child has its copies of its ends; ours must go, or the pipes never end.
  for (const fd of opened) if (!ours.includes(fd)) closeFd(fd);
  const [stdin, stdout, stderr, statusRead] = ours as [number, number, number, number];
  const status = await readStatus(statusRead);
  if (status !== "") {
    closeFd(stdin);
    closeFd(stdout);
    closeFd(stderr);
    await proc.exited;
    return { ok: false, message: status };
  }
  return { ok: true, proc, output: { stdin, stdout, stderr } };
}

/** The exit status of a finished process. */
export async function exitStatus(proc: Subprocess): Promise<ExitStatus> {
  const code = await proc.exited;
  if (proc.signalCode) {
    const n = (nodeOs().constants.signals as Record<string, number>)[proc.signalCode];
    return { code: -1, signal: n ?? null };
  }
  return { code: proc.exitCode ?? code, signal: null };
}
