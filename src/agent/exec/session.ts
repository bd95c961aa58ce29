/**
 * One exec session: request → started → stdout/stderr → exactly one exited. The session owns its
 * process group (the child is a session leader), forwards stdin, resize and signals, and reports
 * the exit as soon as the process itself has exited: output still in the pipes is drained, but
 * only while it keeps coming, so a background child holding the pipe cannot hang the session.
 */
import type { Subprocess } from "bun";
import { withExecDefaults, type ExecRequest, type FullExecRequest } from "../../protocol/payloads.ts";
import type { AgentConfig } from "../config.ts";
import type { SessionContext } from "../session-context.ts";
import type { Emit } from "../output-queue.ts";
import { buildEnv } from "./env.ts";
import { Pump, type OutputPump } from "./pump.ts";
import { CopyPump } from "./copy-pump.ts";
import { rlimitArgs } from "./rlimits.ts";
import { exitStatus, spawnChild, type ExitStatus, type OutputFds } from "./spawn.ts";
import { StdinSpill } from "./stdin-spill.ts";
import { pipeTarget, StdinWriter } from "./stdin-writer.ts";
import { resolveUser, type Identity } from "./user.ts";
import { userDb } from "./user-db.ts";

/** After the process exits, stop waiting for output that has not moved for this long. */
export const DRAIN_IDLE_MS = 100;
/** And never wait longer than this in total for output after the exit (host reading or not). */
export const DRAIN_MAX_MS = 5000;
/** The terminal's default EOF character (VEOF, ^D). */
const TTY_EOF = new Uint8Array([4]);

/** Works out who runs the command and the helper argv, or says why it cannot run. */
function plan(
  req: FullExecRequest,
  config: AgentConfig,
): { argv: string[]; env: Record<string, string> } | string {
  const { passwd, groups } = userDb(config.passwdFile, config.groupFile);
  const spec = req.user ?? config.defaultUser;
  const who = resolveUser(spec, passwd, groups);
  if (!who.ok) return `cannot run '${req.cmd}': ${who.error.message}`;
  const limits = rlimitArgs(req.rlimits);
  if (!limits.ok) return `cannot run '${req.cmd}': ${limits.error.message}`;
  const home = who.value.home ?? (spec === null ? "/root" : null);
  const env = buildEnv(config.baseEnv, req.env, config.scriptsPath, home);
  return {
    argv: [
      config.execHelper,
      ...limits.value,
      ...identityArgs(who.value),
      ...cwdArgs(req),
      "--",
      req.cmd,
      ...req.args,
    ],
    env,
  };
}

function identityArgs(who: Identity): string[] {
  return ["-G", who.groups.join(","), "-g", String(who.gid), "-u", String(who.uid)];
}

function cwdArgs(req: FullExecRequest): string[] {
  return req.cwd ? ["-d", req.cwd] : [];
}

/*
 * Promise.all() and Promise.race() by hand: both are builtins compiled on their first call, and
 * a guest's first exec, right after boot, ran them for the first time (~4 ms each under TCG).
 */

/** Resolves once every pump is done; rejects as soon as one's `done` does. */
function allOf(pumps: readonly OutputPump[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = pumps.length;
    if (left === 0) return resolve();
    for (let i = 0; i < pumps.length; i++)
      pumps[i]!.done.then(() => {
        if (--left === 0) resolve();
      }, reject);
  });
}

/** Settles as the first of `a` and `b` to settle does. */
function firstOf(a: Promise<unknown>, b: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    a.then(() => resolve(), reject);
    b.then(() => resolve(), reject);
  });
}

export class ExecSession {
  #proc: Subprocess | null = null;
  #stdin: StdinWriter;
  #pumps: OutputPump[] = [];
  #ttyActivity = 0;
  #ttyClosed = false;
  #finished = false;
  #tty = false;

  constructor(
    readonly id: number,
    readonly ctx: SessionContext,
  ) {
    const spill = new StdinSpill(
      ctx.config.spillDir,
      `stdin-${process.pid}-${id}-${Date.now().toString(36)}`,
    );
    this.#stdin = new StdinWriter(ctx.budget, (m) => ctx.log(`exec ${id}: ${m}`), spill);
  }

  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  /** Runs the session to its end; resolves after exec.exited was sent. */
  async run(request: ExecRequest): Promise<void> {
    const req = withExecDefaults(request);
    this.#tty = req.tty;
    const planned = plan(req, this.ctx.config);
    if (typeof planned === "string") return this.#fail(planned);
    const spawned = await spawnChild({
      ...planned,
      command: req.cmd,
      tty: req.tty
        ? {
            rows: req.rows,
            cols: req.cols,
            onData: (d) => this.#ttyData(d),
            onClose: () => (this.#ttyClosed = true),
          }
        : null,
    });
    if (!spawned.ok) return this.#fail(spawned.message);
    const proc = spawned.proc;
    this.#proc = proc;
    this.ctx.send(this.id, { type: "core.exec.started", payload: { pid: proc.pid } });
    const terminal = proc.terminal;
    if (terminal) {
      // A terminal buffers what it cannot write at once; there is no stdin to close, EOF is ^D.
      this.#stdin.attach({ write: (c) => void (terminal.closed || terminal.write(c)), end: () => {} });
    } else if (spawned.output) this.#startPipes(proc, spawned.output);
    const status = await exitStatus(proc);
    await this.#drain(performance.now());
    this.#finish(status);
  }

  #startPipes(proc: Subprocess, output: OutputFds): void {
    this.#stdin.attach(pipeTarget(output.stdin, `stdin of exec ${this.id}`, this.id));
    // Frames are written straight from the pump's pooled buffer, which `done` gives back.
    const emit =
      (type: "core.exec.stdout" | "core.exec.stderr"): Emit =>
      (data, done) =>
        this.ctx.sendData(this.id, type, data, true, done);
    const copier = this.ctx.copier;
    // On the virtio port the port thread copies the pipes itself (copy-pump.ts), while it has a
    // slot free; else (past 512 sessions at once) the main thread pumps them, as in host mode.
    const pump = (fd: number, type: "core.exec.stdout" | "core.exec.stderr", name: string): OutputPump =>
      copier?.reserve()
        ? new CopyPump(fd, this.ctx.queue, copier, this.id, type)
        : new Pump(fd, this.ctx.queue, emit(type), `${name} of exec ${this.id}`);
    this.#pumps = [
      pump(output.stdout, "core.exec.stdout", "stdout"),
      pump(output.stderr, "core.exec.stderr", "stderr"),
    ];
  }

  #ttyData(data: Uint8Array): void {
    this.#ttyActivity = performance.now();
    if (!this.#finished)
      this.ctx.send(this.id, { type: "core.exec.stdout", payload: { data: data.slice() } });
  }

  /**
   * Waits for the output that is still coming after the exit. What the pipes held when the exit
   * was seen is always delivered: it is the process's own output, and under load (other sessions
   * holding every read buffer, a slow host) moving it may take longer than any fixed bound (a
   * `wc -c` among 20 busy streams lost its whole output to the 100 ms idle rule). Beyond that,
   * output of background children holding the pipe is taken within DRAIN_IDLE_MS/DRAIN_MAX_MS.
   */
  async #drain(exitedAt: number): Promise<void> {
    const terminal = this.#proc?.terminal;
    for (const p of this.#pumps) p.oweWhatIsThere();
    for (const p of this.#pumps) p.recheck();
    const allDone = terminal ? null : allOf(this.#pumps);
    let settled = false;
    allDone?.then(() => (settled = true));
    this.#ttyActivity = Math.max(this.#ttyActivity, exitedAt);
    for (;;) {
      if (settled) return;
      if (terminal && (terminal.closed || this.#ttyClosed)) break;
      await firstOf(allDone ?? Bun.sleep(10), Bun.sleep(20));
      if (settled) return;
      if (this.#pumps.some((p) => p.owes)) continue;
      const now = performance.now();
      const last = Math.max(this.#ttyActivity, ...this.#pumps.map((p) => p.lastActivity));
      const waiting = this.#pumps.some((p) => p.heldBack);
      if ((!waiting && now - last >= DRAIN_IDLE_MS) || now - exitedAt >= DRAIN_MAX_MS) break;
    }
    for (const p of this.#pumps) p.cancel();
  }

  #finish(status: ExitStatus): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#stdin.discard();
    const terminal = this.#proc?.terminal;
    if (terminal && !terminal.closed) terminal.close();
    const payload = status.signal === null ? { code: status.code } : { code: -1, signal: status.signal };
    // Through the bulk lane, behind this session's own output: exited must come last.
    this.ctx.send(this.id, { type: "core.exec.exited", payload }, true);
  }

  #fail(message: string): void {
    this.#finished = true;
    this.ctx.log(`exec ${this.id}: ${message}`);
    const line = new TextEncoder().encode(`agentd: ${message}\n`);
    this.ctx.send(this.id, { type: "core.exec.stderr", payload: { data: line } });
    this.ctx.send(this.id, { type: "core.exec.exited", payload: { code: -1 } });
  }

  stdin(data: Uint8Array): void {
    this.#stdin.push(this.#tty && data.length === 0 ? TTY_EOF : data);
  }

  resize(rows: number, cols: number): void {
    const terminal = this.#proc?.terminal;
    if (terminal && !terminal.closed) terminal.resize(cols, rows);
  }

  /** Ends the session's process group at once (its host went away). */
  kill(): void {
    // No host takes the output any more (a pump of the port thread would wait for one).
    for (const p of this.#pumps) p.cancel();
    const pid = this.#proc?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }

  /** Sends a signal to the session's whole process group. */
  signal(signal: number): void {
    const pid = this.#proc?.pid;
    if (!pid || this.#finished) return;
    try {
      process.kill(-pid, signal);
    } catch (e) {
      this.ctx.log(`exec ${this.id}: signal ${signal} to group ${pid} failed: ${(e as Error).message}`);
    }
  }
}
