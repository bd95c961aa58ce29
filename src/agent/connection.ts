/**
 * One host connection: bytes in → frame decoder → dispatch to one handler per message type;
 * frames out → bounded output queue → link. Bad input of any kind is logged with its id and
 * answered where the protocol has an answer; only the link closing ends a connection. When it
 * closes, its exec sessions are killed (SIGKILL to their process groups) and its uploads dropped.
 */
import type { PortCopier } from "./port/copier.ts";
import { describe } from "../errors.ts";
import { MAX_FRAME_SIZE } from "../protocol/constants.ts";
import {
  encodeDataFrameHead,
  encodeFrame,
  oversizeLen,
  type DataMessageType,
  type DecodeEvent,
} from "../protocol/frame.ts";
import { FrameDecoder } from "../protocol/frame-decoder.ts";
import type { Frame, Message } from "../protocol/payloads.ts";
import { encodeReadyFrame } from "../protocol/ready-frame.ts";
import type { AgentConfig } from "./config.ts";
import { ExecSession } from "./exec/session.ts";
import { FsHandlers } from "./fs/handlers.ts";
import { allocFrame, PIECE_SIZE, releaseFrameData } from "./frame-pool.ts";
import { InboundBudget } from "./inbound-budget.ts";
import type { Link } from "./link.ts";
import { log } from "./log.ts";
import { OutputQueue } from "./output-queue.ts";
import { bootTimeNs } from "../sys/clock.ts";
import type { SessionContext } from "./session-context.ts";

/** What the connection reports to the agent that owns it. */
export interface ConnectionEvents {
  /** Bytes arrived from the host (feeds heartbeat's last_activity). */
  activity(): void;
  /** The host asked to shut down. */
  shutdown(connection: Connection): void;
}

export class Connection implements SessionContext {
  readonly queue: OutputQueue;
  readonly budget: InboundBudget;
  readonly copier: PortCopier | null;
  readonly exec = new Map<number, ExecSession>();
  readonly fs: FsHandlers;
  /** When core.ready was handed to the link (the kernel's clock, ns): the boot line's written mark. */
  readonly readySentNs: bigint;
  /** Large stdin and fs.data frames arrive as pieces (FrameDecoder): never gathered whole. */
  #decoder = new FrameDecoder(allocFrame, PIECE_SIZE);
  #closed = false;

  constructor(
    readonly link: Link,
    readonly config: AgentConfig,
    readonly events: ConnectionEvents,
  ) {
    this.queue = new OutputQueue(link);
    this.copier = link.copier ?? null;
    this.budget = new InboundBudget(
      () => link.pause(),
      () => link.resume(),
    );
    this.fs = new FsHandlers(this);
    // Written byte by byte (ready-frame.ts): at boot this is agentd's first encode.
    this.queue.push(encodeReadyFrame(config.ready), false);
    this.readySentNs = bootTimeNs();
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(id: number, message: Message, bulk = false): boolean {
    if (this.#closed) return true;
    const frame = encodeFrame(id, message);
    const length = oversizeLen(frame);
    if (length > 0) {
      log(
        "warn",
        `${message.type} for ${id} would be a frame of ${length} bytes, over ${MAX_FRAME_SIZE}: not sent`,
      );
      return false;
    }
    this.queue.push(frame, bulk);
    return true;
  }

  sendData(
    id: number,
    type: DataMessageType,
    data: Uint8Array,
    bulk: boolean,
    done: (() => void) | null,
  ): void {
    if (this.#closed) return void done?.();
    this.queue.pushData(encodeDataFrameHead(id, type, data.length), data, bulk, done);
  }

  log(message: string): void {
    log("info", message);
  }

  /** The link can take more bytes. */
  drained(): void {
    this.queue.flush();
  }

  /** The host sent bytes the port thread wrote to a child's stdin itself (port/inbound-split.ts). */
  activity(): void {
    if (!this.#closed) this.events.activity();
  }

  /**
   * The rest of a stdin frame the port thread began writing to session `id`'s pipe itself, which
   * took no more (port/inbound-split.ts); lent for this call only, as a slot is.
   */
  stdinRest(id: number, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.events.activity();
    const piece = allocFrame(bytes.length);
    piece.set(bytes);
    // The session may have ended since: its stdin is then dropped, as the frame's would be.
    const session = this.exec.get(id);
    if (session) session.stdin(piece);
    else releaseFrameData(piece);
  }

  /** Bytes from the host; `borrowed`: valid only during this call (see FrameDecoder.pushBorrowed). */
  receive(chunk: Uint8Array, borrowed = false): void {
    if (this.#closed) return;
    this.events.activity();
    if (borrowed) {
      for (const event of this.#decoder.pushBorrowed(chunk)) this.#handleSafely(event);
      return;
    }
    this.#decoder.push(chunk);
    for (let event = this.#decoder.next(); event; event = this.#decoder.next()) this.#handleSafely(event);
  }

  #handleSafely(event: DecodeEvent): void {
    try {
      this.#handle(event);
    } catch (e) {
      // A handler bug must cost one request, never the connection.
      log("error", `frame ${describeEvent(event)}: handler failed: ${describe(e)}`);
    }
  }

  #handle(event: DecodeEvent): void {
    switch (event.kind) {
      case "skipped":
        log(
          "warn",
          `id ${event.id ?? "?"}: ${event.error.code}: ${event.error.message}; skipped ${event.length} bytes`,
        );
        return;
      case "invalid":
        log("warn", `id ${event.id}: ${event.error.code}: ${event.error.message}`);
        this.#rejectInvalid(event.id, event.type, event.error.message);
        return;
      case "frame":
        this.#dispatch(event.frame, event.more ?? false);
    }
  }

  /** A known type with a bad payload: answer where the protocol has an answer. */
  #rejectInvalid(id: number, type: string | null, reason: string): void {
    if (type === "core.exec.request") {
      const line = new TextEncoder().encode(`agentd: invalid exec request: ${reason}\n`);
      this.send(id, { type: "core.exec.stderr", payload: { data: line } });
      this.send(id, { type: "core.exec.exited", payload: { code: -1 } });
    } else if (type === "core.fs.request") {
      this.send(id, {
        type: "core.fs.response",
        payload: { ok: false, error: `invalid request: ${reason}`, data: null },
      });
    }
  }

  /** `more`: the frame is a piece of a larger one and more of it follows (FrameDecoder). */
  #dispatch(frame: Frame, more: boolean): void {
    switch (frame.type) {
      case "core.exec.request":
        return this.#execRequest(frame.id, frame.payload);
      case "core.exec.stdin":
      case "core.exec.resize":
      case "core.exec.signal": {
        const session = this.exec.get(frame.id);
        // One log line per frame, not per piece.
        if (!session) return more ? undefined : this.#unknown(frame);
        if (frame.type === "core.exec.stdin") session.stdin(frame.payload.data);
        else if (frame.type === "core.exec.resize") session.resize(frame.payload.rows, frame.payload.cols);
        else session.signal(frame.payload.signal);
        return;
      }
      case "core.fs.request":
        if (this.#isLive(frame.id)) return this.#duplicate(frame);
        return this.fs.request(frame.id, frame.payload.op);
      case "core.fs.data":
        return this.fs.data(frame.id, frame.payload.data, more);
      case "core.shutdown":
        return this.events.shutdown(this);
      default:
        log("warn", `id ${frame.id}: ${frame.type} is sent by the guest, not the host; dropped`);
    }
  }

  #isLive(id: number): boolean {
    return this.exec.has(id) || this.fs.isLive(id);
  }

  #duplicate(frame: Frame): void {
    log("warn", `id ${frame.id}: ${frame.type} reuses the id of a live session; ignored`);
  }

  #unknown(frame: Frame): void {
    log("info", `id ${frame.id}: ${frame.type} for no live exec session; ignored`);
  }

  #execRequest(id: number, request: Extract<Frame, { type: "core.exec.request" }>["payload"]): void {
    if (this.#isLive(id))
      return log("warn", `id ${id}: core.exec.request reuses the id of a live session; ignored`);
    const session = new ExecSession(id, this);
    this.exec.set(id, session);
    session
      .run(request)
      .catch((e) => {
        log("error", `exec ${id}: ${describe(e)}`);
        this.send(id, { type: "core.exec.exited", payload: { code: -1 } });
      })
      .finally(() => {
        if (this.exec.get(id) === session) this.exec.delete(id);
      });
  }

  /** Sends `signal` to every session's process group. */
  signalAll(signal: number): void {
    for (const s of this.exec.values()) s.signal(signal);
  }

  /** The host is gone: end everything this connection started. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.exec.values()) s.kill();
    this.fs.closeAll();
    this.queue.close();
  }
}

function describeEvent(e: DecodeEvent): string {
  return e.kind === "frame" ? `${e.frame.id} ${e.frame.type}` : `${e.id ?? "?"}`;
}
