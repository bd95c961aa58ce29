/**
 * Handlers of core.fs.request and core.fs.data for one connection: each request ends in exactly
 * one fs.response (TERMINAL); a Read streams fs.data before it; a Write collects fs.data until the
 * empty chunk. After a write fails, every later fs.data of that id (the empty one included) gets
 * its own error response, as PROTOCOL.md §6 asks, so a host waiting on any of them is answered.
 */
import { MAX_FRAME_SIZE } from "../../protocol/constants.ts";
import type { FsOp, FsResponse } from "../../protocol/payloads.ts";
import type { SessionContext } from "../session-context.ts";
import { FsFailure } from "./errors.ts";
import type { CopyJob } from "../port/copier.ts";
import { readOp } from "./read.ts";
import { listOp, statOp } from "./stat.ts";
import { copyOp, mkdirOp, removeDirOp, removeOp, renameOp } from "./tree.ts";
import { WriteSession } from "./write.ts";

function message(e: unknown): string {
  return e instanceof FsFailure ? e.message : `internal error: ${e instanceof Error ? e.message : String(e)}`;
}

export class FsHandlers {
  #writes = new Map<number, { session: WriteSession; responded: boolean }>();
  #reads = new Set<number>();
  /** Reads the port thread is copying (fs/read.ts). */
  readonly #copies = new Set<CopyJob>();

  constructor(readonly ctx: SessionContext) {}

  /** True while `id` names an unfinished read or write. */
  isLive(id: number): boolean {
    return this.#writes.has(id) || this.#reads.has(id);
  }

  /**
   * A Read's response goes through the bulk lane, behind its own fs.data. An answer too large for
   * one frame (a List of tens of thousands of entries) becomes an error that says so: the host
   * would refuse the frame and wait forever.
   */
  #respond(id: number, payload: FsResponse): void {
    const bulk = this.#reads.has(id);
    if (this.ctx.send(id, { type: "core.fs.response", payload }, bulk)) return;
    const what =
      payload.data && "List" in payload.data ? `${payload.data.List.length} entries` : "the answer";
    const error = `readdir: ${what} would be a frame over the protocol's largest (${MAX_FRAME_SIZE} bytes)`;
    this.ctx.send(id, { type: "core.fs.response", payload: { ok: false, error, data: null } }, bulk);
  }

  #ok(id: number, data: FsResponse["data"] = null): void {
    this.#respond(id, { ok: true, error: null, data });
  }

  #error(id: number, error: string): void {
    this.#respond(id, { ok: false, error, data: null });
  }

  request(id: number, op: FsOp): void {
    if (op.op === "Write") return this.#startWrite(id, op.path, op.mode);
    if (op.op === "Read") this.#reads.add(id);
    this.#run(id, op)
      .then(
        (data) => this.#ok(id, data),
        (e) => this.#error(id, message(e)),
      )
      .finally(() => this.#reads.delete(id));
  }

  async #run(id: number, op: Exclude<FsOp, { op: "Write" }>): Promise<FsResponse["data"]> {
    switch (op.op) {
      case "Stat":
        return { Stat: await statOp(op.path) };
      case "List":
        return { List: await listOp(op.path) };
      case "Read":
        await readOp(op.path, {
          id,
          queue: this.ctx.queue,
          emit: (data, done) => this.ctx.sendData(id, "core.fs.data", data, true, done),
          copier: this.ctx.copier,
          copies: this.#copies,
        });
        return null;
      case "Mkdir":
        await mkdirOp(op.path);
        return null;
      case "Remove":
        await removeOp(op.path);
        return null;
      case "RemoveDir":
        await removeDirOp(op.path);
        return null;
      case "Copy":
        await copyOp(op.src, op.dst);
        return null;
      case "Rename":
        await renameOp(op.src, op.dst);
        return null;
    }
  }

  #startWrite(id: number, path: string, mode: number | null): void {
    const session = new WriteSession(id, path, mode, this.ctx.budget, this.ctx.config.partials);
    const entry = { session, responded: false };
    this.#writes.set(id, entry);
    session.opened.catch((e) => this.#failWrite(id, entry, e));
  }

  #failWrite(id: number, entry: { session: WriteSession; responded: boolean }, e: unknown): void {
    if (entry.responded) {
      this.#error(id, `unknown write session: ${id}`);
      return;
    }
    entry.responded = true;
    if (this.#writes.get(id) === entry) this.#writes.delete(id);
    this.ctx.log(`fs ${id}: write to ${entry.session.path} failed: ${message(e)}`);
    this.#error(id, message(e));
    void entry.session.abort();
  }

  /**
   * One fs.data chunk from the host; empty ends the upload. `more`: a piece of a larger frame,
   * more of which follows. Each frame gets at most one answer, as if it had come whole: its last
   * piece gives it (a failed write fails every piece queued after it, so the last one carries
   * the first failure).
   */
  data(id: number, data: Uint8Array, more = false): void {
    const entry = this.#writes.get(id);
    if (!entry) {
      if (more) return;
      this.ctx.log(`fs ${id}: data for no open write`);
      this.#error(id, `unknown write session: ${id}`);
      return;
    }
    if (data.length > 0) {
      const written = entry.session.write(data);
      if (more) written.catch(() => {});
      else written.catch((e) => this.#failWrite(id, entry, e));
      return;
    }
    this.#writes.delete(id);
    entry.session
      .finish()
      .then(() => {
        if (entry.responded) return;
        entry.responded = true;
        this.#ok(id);
      })
      .catch((e) => this.#failWrite(id, entry, e));
  }

  /**
   * The connection is gone: abandon unfinished uploads, leaving their targets untouched, and stop
   * the port thread's copies of reads (their frames would be for a host that is not there).
   */
  closeAll(): void {
    for (const job of this.#copies) job.cancel();
    for (const { session } of this.#writes.values()) void session.abort();
    this.#writes.clear();
  }
}
