/**
 * The host-side client of agentd: connects to the agent's socket (host mode, or the socket QEMU
 * exposes for the guest's port), waits for core.ready, and runs exec sessions and fs operations.
 * Works under Node and Bun (node:net only).
 *
 * @example
 * ```ts
 * const agent = await AgentClient.connect("/tmp/vm/agent.sock");
 * const { code, stdout } = await agent.exec("uname", ["-a"]).collect();
 * await agent.writeFile("/tmp/hello.txt", "hello\n");
 * console.log(new TextDecoder().decode(await agent.readFile("/tmp/hello.txt")));
 * agent.close();
 * ```
 */
import { connect as netConnect, type Socket } from "node:net";
import { FS_CHUNK_SIZE, MAX_FRAME_SIZE } from "../protocol/constants.ts";
import { encodeFrame, oversizeLen } from "../protocol/frame.ts";
import { OUTBOUND_DATA_TYPES } from "../protocol/data-prefix.ts";
import { FrameDecoder } from "../protocol/frame-decoder.ts";
import type {
  EntryInfo,
  ExecRequest,
  FsOp,
  FsResponse,
  Frame,
  Message,
  Ready,
  Rlimit,
} from "../protocol/payloads.ts";
import { Channel } from "./channel.ts";
import { ConnectionError, FrameTooLargeError, RemoteFsError } from "./errors.ts";
import { ExecHandle } from "./exec-handle.ts";

export interface ExecOptions {
  env?: string[];
  cwd?: string;
  user?: string;
  tty?: boolean;
  rows?: number;
  cols?: number;
  rlimits?: Rlimit[];
}

/** Received bytes a slow consumer may leave unread before the socket is paused: 16 MiB. */
const RECEIVE_HIGH_WATER = 16 * 1024 * 1024;

/**
 * stdout, stderr and fs.data frames with more data than this reach their consumer as views of
 * the socket's chunks, as they arrive, instead of being gathered into a buffer of their own.
 * Copying agentd's 256 KiB frames out of the chunks took this process 0.41-0.47 s of CPU per 256
 * MiB of stdout against 0.24-0.26 for counting the bytes, and on a 2-core host running the guest
 * under TCG that CPU is the guest's: agentd's stdout went from 88-101% of the bare Bun relay's
 * rate with the copying client to 102-109% with a bare counter.
 */
const STREAM_ABOVE = 64 * 1024;

interface FsPending {
  op: FsOp;
  data: Channel<Uint8Array> | null;
  resolve: (r: FsResponse) => void;
}

export class AgentClient {
  #socket: Socket;
  #decoder = new FrameDecoder(undefined, STREAM_ABOVE, { streamed: OUTBOUND_DATA_TYPES, views: true });
  #nextId = 1;
  #exec = new Map<number, ExecHandle>();
  #fs = new Map<number, FsPending>();
  #closedError: Error | null = null;
  /**
   * The agent sends core.ready when a connection starts; another one on the same connection means
   * agentd was restarted (init does that when it dies) and greets the host that is still there:
   * what was in flight is gone with the old process, and the connection serves the new one.
   */
  #readySeen = false;
  #paused = false;
  /**
   * Senders waiting for the socket to drain: one 'drain' listener for all of them (a listener
   * each made Node warn of a leak past 10 concurrent uploads), settled on close as well, so a
   * sender never waits on a socket that is gone.
   */
  #drainWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /**
   * Frames sent while the socket is over its high-water mark, in order, handed to it on 'drain'.
   * Handing every frame to the socket at once (a 224 MiB stdin write is 224 frames) made it copy
   * its growing backlog: 9.5 s of this process's CPU and 22 MB/s into the guest, against 0.26 s
   * and 120 MB/s for the same frames sent one drain at a time.
   */
  #outbox: { bytes: Uint8Array; resolve: () => void; reject: (e: Error) => void }[] = [];
  #blocked = false;
  /** close() was called: end the socket once the outbox is empty. */
  #ending = false;
  readonly ready: Promise<Ready>;
  /** Frames this client could not route (for tests and diagnostics). */
  readonly unrouted: Frame[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    let resolveReady!: (r: Ready) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((resolveReady = res), (rejectReady = rej)));
    this.ready.catch(() => {});
    socket.on("data", (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let ev = this.#decoder.next(); ev; ev = this.#decoder.next()) {
        if (ev.kind !== "frame") continue;
        if (ev.frame.type !== "core.ready") this.#route(ev.frame);
        else if (this.#readySeen)
          this.#failInFlight(
            new ConnectionError("the agent restarted: the sessions and requests it had are gone"),
          );
        else {
          this.#readySeen = true;
          resolveReady(ev.frame.payload);
        }
      }
    });
    socket.on("drain", () => {
      this.#blocked = false;
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
      while (this.#outbox.length > 0 && !this.#blocked) {
        const next = this.#outbox.shift()!;
        if (this.#socket.write(next.bytes)) next.resolve();
        else {
          this.#blocked = true;
          this.#drainWaiters.push(next);
        }
      }
      if (this.#ending && this.#outbox.length === 0) this.#end();
    });
    socket.on("close", () => {
      const e = this.#closedError ?? new ConnectionError("the agent closed the connection");
      this.#closedError = e;
      rejectReady(e);
      for (const w of [...this.#drainWaiters.splice(0), ...this.#outbox.splice(0)]) w.reject(e);
      this.#failInFlight(e);
    });
    socket.on("error", (e) => (this.#closedError = new ConnectionError(e.message)));
  }

  /** Connects to an agent socket and waits for its core.ready. */
  static async connect(path: string, timeoutMs = 10_000): Promise<AgentClient> {
    const socket = netConnect(path);
    const client = new AgentClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", (e: NodeJS.ErrnoException) => reject(new ConnectionError(connectHint(path, e))));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ConnectionError(
              `no core.ready from ${path} within ${timeoutMs / 1000} s: the guest may still be booting ` +
                `(retry, or look at the VM's console.log), or another client is connected (agentd serves one at a time)`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([client.ready, timeout]);
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** Ends every exec session and fs operation in flight with `e`. */
  #failInFlight(e: Error): void {
    for (const h of this.#exec.values()) h.onClosed(e);
    for (const p of this.#fs.values()) {
      p.data?.end(e);
      p.resolve({ ok: false, error: `connection lost: ${e.message}`, data: null });
    }
    this.#exec.clear();
    this.#fs.clear();
  }

  #route(f: Frame): void {
    const h = this.#exec.get(f.id);
    if (h) {
      if (f.type === "core.exec.started") h.onStarted(f.payload.pid);
      else if (f.type === "core.exec.stdout") h.onOutput("stdout", f.payload.data);
      else if (f.type === "core.exec.stderr") h.onOutput("stderr", f.payload.data);
      else if (f.type === "core.exec.exited") {
        this.#exec.delete(f.id);
        h.onExited(f.payload);
      } else this.unrouted.push(f);
      return;
    }
    const p = this.#fs.get(f.id);
    if (p && f.type === "core.fs.data" && p.data) return p.data.push(f.payload.data);
    if (p && f.type === "core.fs.response") {
      this.#fs.delete(f.id);
      p.data?.end(
        f.payload.ok ? null : new RemoteFsError(p.op.op, describeOp(p.op), f.payload.error ?? "failed"),
      );
      return p.resolve(f.payload);
    }
    this.unrouted.push(f);
  }

  /** Pauses the socket while consumers hold too much unread output; resumes when they catch up. */
  #level = (): void => {
    let held = 0;
    for (const h of this.#exec.values()) held += h.output.bytes;
    for (const p of this.#fs.values()) held += p.data?.bytes ?? 0;
    if (!this.#paused && !this.#socket.writableEnded && held > RECEIVE_HIGH_WATER) {
      this.#paused = true;
      this.#socket.pause();
    } else if (this.#paused && held <= RECEIVE_HIGH_WATER / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
  };

  /** Sends one frame; resolves when the socket has taken it (backpressure). */
  send(id: number, message: Message): Promise<void> {
    const bytes = encodeFrame(id, message);
    // The agent skips a frame over MAX_FRAME_SIZE without an answer: refuse it here instead.
    const length = oversizeLen(bytes);
    if (length > 0) return Promise.reject(new FrameTooLargeError(message.type, length, MAX_FRAME_SIZE));
    return this.sendRaw(bytes);
  }

  /** Sends raw bytes (tests of hostile input use this). */
  sendRaw(bytes: Uint8Array): Promise<void> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    if (this.#blocked) return new Promise((resolve, reject) => this.#outbox.push({ bytes, resolve, reject }));
    if (this.#socket.write(bytes)) return Promise.resolve();
    this.#blocked = true;
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** A fresh session id. */
  allocateId(): number {
    return this.#nextId++;
  }

  /** Starts a command. */
  exec(cmd: string, args: string[] = [], opts: ExecOptions = {}): ExecHandle {
    const id = this.allocateId();
    const handle = new ExecHandle(
      id,
      {
        stdin: (data) => this.send(id, { type: "core.exec.stdin", payload: { data } }),
        resize: (rows, cols) =>
          void this.send(id, { type: "core.exec.resize", payload: { rows, cols } }).catch(() => {}),
        signal: (signal) =>
          void this.send(id, { type: "core.exec.signal", payload: { signal } }).catch(() => {}),
      },
      this.#level,
    );
    this.#exec.set(id, handle);
    const request: ExecRequest = {
      cmd,
      args,
      env: opts.env ?? [],
      cwd: opts.cwd ?? null,
      user: opts.user ?? null,
      tty: opts.tty ?? false,
      rows: opts.rows ?? 24,
      cols: opts.cols ?? 80,
      rlimits: opts.rlimits ?? [],
    };
    this.send(id, { type: "core.exec.request", payload: request }).catch((e) => {
      this.#exec.delete(id);
      handle.onClosed(e);
    });
    return handle;
  }

  #fsRequest(
    op: FsOp,
    data: Channel<Uint8Array> | null = null,
  ): { id: number; response: Promise<FsResponse> } {
    const id = this.allocateId();
    let fail!: (e: Error) => void;
    const response = new Promise<FsResponse>((resolve, reject) => {
      this.#fs.set(id, { op, data, resolve });
      fail = reject;
    });
    response.catch(() => {}); // a read's caller watches its data, not this
    this.send(id, { type: "core.fs.request", payload: { op } }).catch((e) => {
      // A lost connection is answered by the close handler; a request too large, here.
      if (!(e instanceof FrameTooLargeError)) return;
      this.#fs.delete(id);
      data?.end(e);
      fail(e);
    });
    return { id, response };
  }

  async #simple(op: FsOp): Promise<FsResponse["data"]> {
    const r = await this.#fsRequest(op).response;
    if (!r.ok) throw new RemoteFsError(op.op, describeOp(op), r.error ?? "failed");
    return r.data;
  }

  async stat(path: string): Promise<EntryInfo> {
    const d = await this.#simple({ op: "Stat", path });
    if (!d || !("Stat" in d)) throw new RemoteFsError("Stat", path, "stat: response without entry");
    return d.Stat;
  }
  async list(path: string): Promise<EntryInfo[]> {
    const d = await this.#simple({ op: "List", path });
    if (!d || !("List" in d)) throw new RemoteFsError("List", path, "opendir: response without entries");
    return d.List;
  }
  async mkdir(path: string): Promise<void> {
    await this.#simple({ op: "Mkdir", path });
  }
  async remove(path: string): Promise<void> {
    await this.#simple({ op: "Remove", path });
  }
  async removeDir(path: string): Promise<void> {
    await this.#simple({ op: "RemoveDir", path });
  }
  async copy(src: string, dst: string): Promise<void> {
    await this.#simple({ op: "Copy", src, dst });
  }
  async rename(src: string, dst: string): Promise<void> {
    await this.#simple({ op: "Rename", src, dst });
  }

  /** Streams a guest file; the iterator throws RemoteFsError if the read fails. */
  read(path: string): AsyncIterable<Uint8Array> {
    const data = new Channel<Uint8Array>((c) => c.length, this.#level);
    this.#fsRequest({ op: "Read", path }, data);
    return data;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of this.read(path)) parts.push(c);
    return Buffer.concat(parts);
  }

  /**
   * A guest file as a ReadableStream (web streams, Node ≥ 18 and Bun); errors with
   * RemoteFsError if the read fails.
   *
   * @example
   * ```ts
   * import { Writable } from "node:stream";
   * await agent.readStream("/var/log/app.log").pipeTo(Writable.toWeb(process.stdout));
   * ```
   */
  readStream(path: string): ReadableStream<Uint8Array> {
    const it = this.read(path)[Symbol.asyncIterator]();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
    });
  }

  /**
   * A guest file as a WritableStream: the file appears (atomically, with `mode` if given) when
   * the stream is closed, and closing rejects with RemoteFsError if the guest refused the write.
   * Writes wait while more than 4 MiB is queued (backpressure). An aborted stream leaves the
   * target untouched.
   *
   * @example
   * ```ts
   * import { Readable } from "node:stream";
   * import { createReadStream } from "node:fs";
   * await Readable.toWeb(createReadStream("data.bin")).pipeTo(agent.writeStream("/tmp/data.bin"));
   * ```
   */
  writeStream(path: string, mode: number | null = null): WritableStream<Uint8Array> {
    const HIGH_WATER = 4 * 1024 * 1024;
    let wake: (() => void) | null = null;
    const queue = new Channel<Uint8Array>(
      (c) => c.length,
      () => {
        if (queue.bytes <= HIGH_WATER) (wake?.(), (wake = null));
      },
    );
    let failure: unknown = null;
    const done = this.writeFile(path, queue, mode).catch((e: unknown) => {
      failure = e;
      wake?.();
    });
    return new WritableStream<Uint8Array>({
      async write(chunk) {
        if (failure) throw failure;
        queue.push(chunk);
        while (queue.bytes > HIGH_WATER && !failure) await new Promise<void>((r) => (wake = r));
        if (failure) throw failure;
      },
      async close() {
        queue.end();
        await done;
        if (failure) throw failure;
      },
      abort(reason) {
        queue.end(reason instanceof Error ? reason : new Error(String(reason ?? "aborted")));
      },
    });
  }

  /**
   * Uploads to a guest file atomically. `source` may be bytes, text or an async iterable of
   * chunks; chunks are cut to FS_CHUNK_SIZE. Stops sending at the first error response.
   */
  async writeFile(
    path: string,
    source: Uint8Array | string | AsyncIterable<Uint8Array>,
    mode: number | null = null,
  ): Promise<void> {
    const op: FsOp = { op: "Write", path, mode };
    const { id, response } = this.#fsRequest(op);
    let answered: FsResponse | null = null;
    void response.then(
      (r) => (answered = r),
      (e: Error) => (answered = { ok: false, error: e.message, data: null }),
    );
    const chunks =
      typeof source === "string"
        ? [new TextEncoder().encode(source)]
        : source instanceof Uint8Array
          ? [source]
          : source;
    for await (const chunk of chunks) {
      for (let at = 0; at < chunk.length && !answered; at += FS_CHUNK_SIZE) {
        await this.send(id, {
          type: "core.fs.data",
          payload: { data: chunk.subarray(at, at + FS_CHUNK_SIZE) },
        });
      }
      if (answered) break;
    }
    if (!answered) await this.send(id, { type: "core.fs.data", payload: { data: new Uint8Array(0) } });
    const r = await response;
    if (!r.ok) throw new RemoteFsError("Write", path, r.error ?? "failed");
  }

  /** Asks the agent to shut the guest down (host mode: the agent exits). */
  async shutdown(): Promise<void> {
    await this.send(0, { type: "core.shutdown", payload: null });
  }

  /**
   * Diagnostics: bytes the socket holds that the kernel has not taken yet, and bytes of frames
   * this client holds back until the socket drains (`#outbox`).
   */
  get sendBacklog(): { socket: number; held: number } {
    let held = 0;
    for (const f of this.#outbox) held += f.bytes.length;
    return { socket: this.#socket.writableLength, held };
  }

  /** Ends the connection once every frame sent so far is handed to the socket. */
  close(): void {
    this.#ending = true;
    if (this.#outbox.length === 0) this.#end();
  }

  /**
   * Ends the socket, taking from then on whatever still arrives: a socket left paused for
   * consumers that stopped reading (a loop that broke off an endless output) kept the VM relay
   * from handing over its last bytes, and so from ending the connection (relay-splice.c), and the
   * guest never heard that its host had left. What arrives now is bounded: the relay reads nothing
   * more for a client that ended its side, and agentd ends the connection. An ended socket is
   * never paused again (#level).
   */
  #end(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    this.#socket.end();
  }

  /** Resolves when the agent closes the connection. */
  closed(): Promise<void> {
    if (this.#socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.#socket.once("close", () => resolve()));
  }
}

/** What went wrong connecting, and what to do about it. */
function connectHint(path: string, e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOENT":
      return `no agent socket at ${path}: is agentd (or the VM) running? Start one with 'agentctl vm start --state DIR'`;
    case "ECONNREFUSED":
      return `nothing is listening on ${path}: the VM or agentd has stopped (a stale socket); start it again`;
    case "EACCES":
    case "EPERM":
      return `no permission to connect to ${path}: run as the user who started the VM, or as root`;
    case "ENOTSOCK":
      return `${path} is not a socket: pass the agent's socket, e.g. DIR/agent.sock of 'agentctl vm start --state DIR'`;
    default:
      return `cannot connect to ${path}: ${e.message}`;
  }
}

function describeOp(op: FsOp): string {
  return "path" in op ? op.path : `${op.src} -> ${op.dst}`;
}
