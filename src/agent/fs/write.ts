/**
 * Write: a streamed, atomic upload. Chunks go to a temp file beside the target; the empty chunk
 * ends the stream: fsync, then rename over the target, so a reader sees the old or the new
 * content, never a mix. An existing target keeps its mode and owner unless `mode` is given.
 * Where a temp file cannot be made or renamed (a read-only directory with a writable file, a
 * bind-mounted file), the content is written in place with an fsync instead.
 *
 * Chunks arriving while the file is being opened or written wait in order; their bytes count
 * against the connection's inbound budget.
 */
import type { FileHandle } from "node:fs/promises";
// node:fs/promises and node:path, loaded on first use (src/lazy-node.ts).
import { nodeFsPromises as fsp, nodePath } from "../../lazy-node.ts";
import type { InboundBudget } from "../inbound-budget.ts";
import { errnoError, fsFailure, step } from "./errors.ts";
import type { PartialJournal } from "./partials.ts";
import { releaseFrameData } from "../frame-pool.ts";

/**
 * Eight random hex digits for a temp file's name. The Web Crypto global, not node:crypto's
 * randomBytes: loading that module (and the streams it is built on) was a fifth of agentd's
 * module loading, which the guest pays at every boot before core.ready.
 */
function randomHex8(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
}

/** Temp files of unfinished uploads carry this marker, so a restarted agentd can remove them. */
export const PARTIAL_MARKER = ".agentd-partial-";

/** Errors on which we give up the temp file and write the target in place. */
const IN_PLACE_ERRORS = new Set(["EACCES", "EPERM", "EROFS", "EBUSY", "EXDEV"]);

async function resolveTarget(path: string): Promise<string> {
  try {
    if ((await fsp().lstat(path)).isSymbolicLink()) return await fsp().realpath(path);
  } catch {
    // Missing target or dangling link: write the path as given.
  }
  return path;
}

export class WriteSession {
  #target = "";
  #temp: string | null = null;
  #fh: FileHandle | null = null;
  #busy: Promise<void>;
  #done = false;
  /** Settles when the destination is open; rejects with FsFailure if it cannot be. */
  readonly opened: Promise<void>;

  constructor(
    readonly id: number,
    readonly path: string,
    readonly mode: number | null,
    readonly budget: InboundBudget,
    readonly journal: PartialJournal | null = null,
  ) {
    this.opened = this.#open();
    this.#busy = this.opened;
  }

  async #open(): Promise<void> {
    this.#target = await resolveTarget(this.path);
    await step("mkdir parent", () => fsp().mkdir(nodePath().dirname(this.#target), { recursive: true }));
    const existing = await fsp()
      .stat(this.#target)
      .catch(() => null);
    if (existing?.isDirectory()) throw fsFailure("open for write", errnoError("EISDIR", "is a directory"));
    const temp = nodePath().join(
      nodePath().dirname(this.#target),
      `.${nodePath().basename(this.#target)}${PARTIAL_MARKER}${process.pid}-${this.id}-${randomHex8()}`,
    );
    try {
      this.journal?.add(temp);
      this.#fh = await fsp().open(temp, "wx", 0o600);
      this.#temp = temp;
    } catch (e) {
      this.journal?.remove(temp);
      if (!IN_PLACE_ERRORS.has((e as { code?: string }).code ?? "")) throw fsFailure("open for write", e);
      this.#fh = await step("open for write", () => fsp().open(this.#target, "w"));
    }
    const fh = this.#fh;
    await step("set permissions", async () => {
      if (this.mode !== null) await fh.chmod(this.mode & 0o7777);
      else if (this.#temp) {
        if (existing) {
          await fh.chmod(Number(existing.mode) & 0o7777);
          await fh.chown(existing.uid, existing.gid).catch(() => {});
        } else await fh.chmod(0o666 & ~process.umask());
      }
    });
  }

  /** Queues a chunk; chunks are written strictly in arrival order. */
  write(data: Uint8Array): Promise<void> {
    this.budget.take(data.length);
    const run = async () => {
      try {
        let at = 0;
        while (at < data.length) {
          const { bytesWritten } = await step("write", () =>
            this.#fh!.write(data, at, data.length - at, null),
          );
          at += bytesWritten;
        }
      } finally {
        this.budget.release(data.length);
        releaseFrameData(data);
      }
    };
    // After a failed chunk the later ones are not written, but their bytes are released.
    const skip = (e: unknown) => {
      this.budget.release(data.length);
      releaseFrameData(data);
      throw e;
    };
    this.#busy = this.#busy.then(run, skip);
    return this.#busy;
  }

  /** Ends the stream: fsync and move the temp file into place. */
  async finish(): Promise<void> {
    await this.#busy;
    const fh = this.#fh!;
    await step("flush", () => fh.sync());
    await fh.close();
    this.#fh = null;
    this.#done = true;
    if (!this.#temp) return;
    try {
      await fsp().rename(this.#temp, this.#target);
    } catch (e) {
      if (!IN_PLACE_ERRORS.has((e as { code?: string }).code ?? "")) {
        await fsp()
          .unlink(this.#temp)
          .catch(() => {});
        throw fsFailure("write", e);
      }
      await this.#copyInPlace();
    } finally {
      this.journal?.remove(this.#temp);
    }
  }

  /** Rename could not replace the target (a bind-mounted file): overwrite it in place. */
  async #copyInPlace(): Promise<void> {
    const temp = this.#temp!;
    try {
      await step("write", () => fsp().copyFile(temp, this.#target));
      const fh = await step("open for write", () => fsp().open(this.#target, "r+"));
      await step("flush", () => fh.sync()).finally(() => fh.close());
    } finally {
      await fsp()
        .unlink(temp)
        .catch(() => {});
    }
  }

  /** Abandons the upload: the target is untouched and the temp file removed. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#busy.catch(() => {});
    await this.#fh?.close().catch(() => {});
    if (this.#temp) {
      await fsp()
        .unlink(this.#temp)
        .catch(() => {});
      this.journal?.remove(this.#temp);
    }
  }
}
