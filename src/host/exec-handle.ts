/**
 * A running exec session seen from the host: output as an async iterable (or collected), stdin
 * as a method or a WritableStream, resize and signal, and the exit status.
 */
import { STDIN_CHUNK_SIZE } from "../protocol/constants.ts";
import type { ExecExited } from "../protocol/payloads.ts";
import { Channel } from "./channel.ts";
import { ExecStartError } from "./errors.ts";

export interface ExecOutput {
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

/** What a finished command left: its exit and everything it wrote. */
export interface ExecResult extends ExecExited {
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** What the session needs from its client. */
export interface ExecTransport {
  stdin(data: Uint8Array): Promise<void>;
  resize(rows: number, cols: number): void;
  signal(signal: number): void;
}

/**
 * One exec session.
 *
 * @example
 * ```ts
 * const h = agent.exec("sh", ["-c", "read name; echo hello $name"]);
 * await h.write("world\n");
 * await h.closeStdin();
 * for await (const { stream, data } of h.output) process[stream].write(data);
 * const { code } = await h.exited; // 0
 * ```
 */
export class ExecHandle {
  /** stdout and stderr chunks in the order they arrived; throws ConnectionError if the link drops. */
  readonly output: Channel<ExecOutput>;
  /** The pid once `core.exec.started` arrived; rejects with ExecStartError if it could not start. */
  readonly started: Promise<number>;
  /**
   * The exit: `code` (-1 when killed by a signal or when it could not start) and `signal`.
   * Rejects with ConnectionError when the connection drops before the command exits.
   */
  readonly exited: Promise<ExecExited>;
  #resolveStarted!: (pid: number) => void;
  #rejectStarted!: (e: Error) => void;
  #resolveExited!: (e: ExecExited) => void;
  #rejectExited!: (e: Error) => void;
  #stderrBeforeStart: Uint8Array[] = [];
  #startedSeen = false;
  #stdin: WritableStream<Uint8Array | string> | null = null;

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
    this.exited = new Promise((resolve, reject) => {
      this.#resolveExited = resolve;
      this.#rejectExited = reject;
    });
    this.exited.catch(() => {});
  }

  /**
   * Writes to the command's stdin; resolves when the bytes are on their way (backpressure). Any
   * length: a write longer than STDIN_CHUNK_SIZE goes as several frames, all queued at once so a
   * concurrent write cannot come between them.
   */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0) return Promise.resolve();
    if (bytes.length <= STDIN_CHUNK_SIZE) return this.transport.stdin(bytes);
    const sent: Promise<void>[] = [];
    for (let at = 0; at < bytes.length; at += STDIN_CHUNK_SIZE)
      sent.push(this.transport.stdin(bytes.subarray(at, at + STDIN_CHUNK_SIZE)));
    return Promise.all(sent).then(() => {});
  }

  /** Closes stdin (on a tty: sends the EOF character, ^D). */
  closeStdin(): Promise<void> {
    return this.transport.stdin(new Uint8Array(0));
  }

  /**
   * stdin as a WritableStream (web streams, Node ≥ 18 and Bun): closing it closes stdin.
   *
   * @example
   * ```ts
   * await fileStream.pipeTo(agent.exec("sha256sum").stdin);
   * ```
   */
  get stdin(): WritableStream<Uint8Array | string> {
    this.#stdin ??= new WritableStream<Uint8Array | string>({
      write: (chunk) => this.write(chunk),
      close: () => this.closeStdin(),
    });
    return this.#stdin;
  }

  /** Tells a tty session its new size; the command gets SIGWINCH. */
  resize(rows: number, cols: number): void {
    this.transport.resize(rows, cols);
  }

  /** Sends a signal (a number, e.g. 2 for SIGINT) to the command's process group. */
  signal(signal: number): void {
    this.transport.signal(signal);
  }

  /** Collects all output and the exit. */
  async collect(): Promise<ExecResult> {
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
      this.#rejectStarted(new ExecStartError(why || "the command could not be started"));
    }
    this.output.end();
    this.#resolveExited(e);
  }
  onClosed(error: Error): void {
    this.#rejectStarted(error);
    this.output.end(error);
    this.#rejectExited(error);
  }
}
