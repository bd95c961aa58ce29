/**
 * A running exec session seen from the host: output as async iterables (or collected), a
 * writable stdin, resize and signal, and the exit status.
 */
import type { ExecExited } from "../protocol/payloads.ts";
import { Channel } from "./channel.ts";

export interface ExecOutput {
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

/** What the session needs from its client. */
export interface ExecTransport {
  stdin(data: Uint8Array): Promise<void>;
  resize(rows: number, cols: number): void;
  signal(signal: number): void;
}

export class ExecHandle {
  /** stdout and stderr chunks in the order they arrived. */
  readonly output: Channel<ExecOutput>;
  /** The pid once `core.exec.started` arrived; rejects if the command could not start. */
  readonly started: Promise<number>;
  /** The exit: `code` (-1 when killed by a signal or when it could not start) and `signal`. */
  readonly exited: Promise<ExecExited>;
  #resolveStarted!: (pid: number) => void;
  #rejectStarted!: (e: Error) => void;
  #resolveExited!: (e: ExecExited) => void;
  #stderrBeforeStart: Uint8Array[] = [];
  #startedSeen = false;

  constructor(
    readonly id: number,
    readonly transport: ExecTransport,
    onLevel: () => void,
  ) {
    this.output = new Channel<ExecOutput>((o) => o.data.length, onLevel);
    this.started = new Promise((resolve, reject) => {
      this.#resolveStarted = resolve;
      this.#rejectStarted = reject;
    });
    this.started.catch(() => {});
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
  }

  /** Writes to the command's stdin; resolves when the bytes are on their way. */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return bytes.length === 0 ? Promise.resolve() : this.transport.stdin(bytes);
  }

  /** Closes stdin (on a tty: sends the EOF character). */
  closeStdin(): Promise<void> {
    return this.transport.stdin(new Uint8Array(0));
  }

  resize(rows: number, cols: number): void {
    this.transport.resize(rows, cols);
  }

  signal(signal: number): void {
    this.transport.signal(signal);
  }

  /** Collects all output and the exit. */
  async collect(): Promise<{ code: number; signal?: number; stdout: Uint8Array; stderr: Uint8Array }> {
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    for await (const o of this.output) (o.stream === "stdout" ? out : err).push(o.data);
    const exit = await this.exited;
    return { ...exit, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
  }

  // Called by the client as frames arrive.
  onStarted(pid: number): void {
    this.#startedSeen = true;
    this.#resolveStarted(pid);
  }
  onOutput(stream: "stdout" | "stderr", data: Uint8Array): void {
    if (!this.#startedSeen && stream === "stderr") this.#stderrBeforeStart.push(data);
    this.output.push({ stream, data });
  }
  onExited(e: ExecExited): void {
    if (!this.#startedSeen) {
      const why = Buffer.concat(this.#stderrBeforeStart).toString("utf8").trim();
      this.#rejectStarted(new Error(why || "the command could not be started"));
    }
    this.output.end();
    this.#resolveExited(e);
  }
  onClosed(error: Error): void {
    this.#rejectStarted(error);
    this.output.end(error);
    this.#resolveExited({ code: -1 });
  }
}
