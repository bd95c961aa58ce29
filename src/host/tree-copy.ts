/**
 * Copies files and whole directory trees between the host and the guest over the fs protocol:
 * regular files stream through Read/Write (atomic per file, modes kept), directories are made
 * with Mkdir, and what the fs ops cannot express (a directory's mode, a symlink) is done with one
 * batched exec of the guest's own `chmod`, `ln` and `readlink`. Fifos, sockets and devices are
 * skipped and reported. Node and Bun (node:fs only).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, readdir, readlink, rename, stat, symlink, unlink } from "node:fs/promises";
import { basename, join, posix } from "node:path";
import type { EntryInfo } from "../protocol/payloads.ts";
import type { AgentClient } from "./client.ts";
import { RemoteFsError } from "./errors.ts";

/** What a copy did, for progress and for `--json`. */
export interface CopyStats {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** Entries left out (fifos, sockets, devices) with the reason. */
  skipped: string[];
}

export interface CopyProgress {
  /** Bytes of file content moved so far. */
  done: number;
  /** Total bytes to move, or null when unknown (a stream). */
  total: number | null;
  filesDone: number;
  filesTotal: number;
}

export interface CopyOptions {
  /** Called as bytes move (often: throttle on your side). */
  onProgress?: (p: CopyProgress) => void;
}

type Kind = "file" | "dir" | "symlink" | "other";
interface PlanEntry {
  /** Path relative to the copy's root ("" is the root itself). */
  rel: string;
  kind: Kind;
  size: number;
  mode: number;
}

/** How many paths one helper exec takes: well below any argv limit. */
const EXEC_BATCH = 256;

function kindOfMode(mode: number): Kind {
  const t = mode & 0o170000;
  return t === 0o100000 ? "file" : t === 0o040000 ? "dir" : t === 0o120000 ? "symlink" : "other";
}

class Meter {
  stats: CopyStats = { files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: [] };
  constructor(
    private total: number | null,
    private filesTotal: number,
    private onProgress?: (p: CopyProgress) => void,
  ) {}
  add(bytes: number): void {
    this.stats.bytes += bytes;
    this.report();
  }
  fileDone(): void {
    this.stats.files++;
    this.report();
  }
  report(): void {
    this.onProgress?.({
      done: this.stats.bytes,
      total: this.total,
      filesDone: this.stats.files,
      filesTotal: this.filesTotal,
    });
  }
}

async function guestExec(client: AgentClient, cmd: string, args: string[], what: string): Promise<string> {
  const r = await client.exec(cmd, args).collect();
  if (r.code !== 0) {
    const why = Buffer.from(r.stderr).toString("utf8").trim() || `exit code ${r.code}`;
    throw new RemoteFsError("Exec", what, `${cmd}: ${why}`);
  }
  return Buffer.from(r.stdout).toString("utf8");
}

function batches<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += EXEC_BATCH) out.push(items.slice(i, i + EXEC_BATCH));
  return out;
}

// ---- host → guest ----

async function localPlan(root: string): Promise<PlanEntry[]> {
  const top = await stat(root); // the named source is followed, like cp
  const out: PlanEntry[] = [{ rel: "", kind: kindOfMode(top.mode), size: top.size, mode: top.mode }];
  if (out[0]!.kind !== "dir") return out;
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const s = await lstat(join(root, r));
      const e: PlanEntry = { rel: r, kind: kindOfMode(s.mode), size: s.size, mode: s.mode };
      out.push(e);
      if (e.kind === "dir") await walk(r);
    }
  };
  await walk("");
  return out;
}

async function* fileChunks(path: string, meter: Meter): AsyncIterable<Uint8Array> {
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    meter.add((c as Buffer).length);
    yield c as Buffer;
  }
}

/**
 * Copies a local file or directory tree to `guestDst` (the new name, not its parent).
 *
 * @example
 * ```ts
 * const stats = await upload(agent, "./src", "/work/src");
 * console.log(`${stats.files} files, ${stats.bytes} bytes`);
 * ```
 */
export async function upload(
  client: AgentClient,
  localSrc: string,
  guestDst: string,
  opts: CopyOptions = {},
): Promise<CopyStats> {
  const plan = await localPlan(localSrc);
  const files = plan.filter((e) => e.kind === "file");
  const meter = new Meter(
    files.reduce((n, e) => n + e.size, 0),
    files.length,
    opts.onProgress,
  );
  const guestPath = (rel: string) => (rel ? posix.join(guestDst, rel) : guestDst);
  const links: string[] = [];
  const dirModes = new Map<string, string[]>();
  for (const e of plan) {
    const local = e.rel ? join(localSrc, e.rel) : localSrc;
    if (e.kind === "dir") {
      await client.mkdir(guestPath(e.rel));
      meter.stats.dirs++;
      const m = (e.mode & 0o7777).toString(8);
      dirModes.set(m, [...(dirModes.get(m) ?? []), guestPath(e.rel)]);
    } else if (e.kind === "file") {
      await client.writeFile(guestPath(e.rel), fileChunks(local, meter), e.mode & 0o7777);
      meter.fileDone();
    } else if (e.kind === "symlink") {
      links.push(await readlink(local), guestPath(e.rel));
      meter.stats.symlinks++;
    } else {
      meter.stats.skipped.push(`${local}: not a file, directory or symlink`);
    }
  }
  for (const batch of batches(pairs(links))) {
    await guestExec(
      client,
      "sh",
      [
        "-c",
        'while [ $# -gt 1 ]; do ln -sfn -- "$1" "$2" || exit 1; shift 2; done',
        "agentctl",
        ...batch.flat(),
      ],
      guestDst,
    );
  }
  // Directory modes last: a read-only directory must not stop the files going into it.
  for (const [m, dirs] of dirModes)
    for (const batch of batches(dirs)) await guestExec(client, "chmod", [m, "--", ...batch], guestDst);
  return meter.stats;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

// ---- guest → host ----

async function guestPlan(client: AgentClient, root: string): Promise<PlanEntry[]> {
  const top = await client.stat(root);
  let kind = top.kind as Kind;
  // A symlink named on the command line is followed, like cp: a directory if it lists as one.
  if (kind === "symlink")
    kind = await client.list(root).then(
      () => "dir" as const,
      () => "file" as const,
    );
  const out: PlanEntry[] = [{ rel: "", kind, size: Number(top.size), mode: top.mode }];
  if (kind !== "dir") return out;
  const walk = async (rel: string) => {
    const entries: EntryInfo[] = await client.list(rel ? posix.join(root, rel) : root);
    entries.sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const x of entries) {
      const r = rel ? `${rel}/${posix.basename(x.path)}` : posix.basename(x.path);
      const e: PlanEntry = { rel: r, kind: x.kind as Kind, size: Number(x.size), mode: x.mode };
      out.push(e);
      if (e.kind === "dir") await walk(r);
    }
  };
  await walk("");
  return out;
}

async function downloadFile(
  client: AgentClient,
  src: string,
  dst: string,
  mode: number | null,
  meter: Meter,
): Promise<void> {
  // Write beside the target and rename, so a failed download leaves no half file behind.
  const temp = posix.join(posix.dirname(dst), `.${basename(dst)}.agentctl-partial`);
  const out = createWriteStream(temp);
  try {
    for await (const c of client.read(src)) {
      meter.add(c.length);
      if (!out.write(c)) await new Promise((r) => out.once("drain", r));
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (mode !== null) await chmod(temp, mode & 0o7777);
    await rename(temp, dst);
  } catch (e) {
    out.destroy();
    await unlink(temp).catch(() => {});
    throw e;
  }
}

/**
 * Copies a guest file or directory tree to `localDst` (the new name, not its parent).
 *
 * @example
 * ```ts
 * await download(agent, "/var/log", "./guest-logs");
 * ```
 */
export async function download(
  client: AgentClient,
  guestSrc: string,
  localDst: string,
  opts: CopyOptions = {},
): Promise<CopyStats> {
  const plan = await guestPlan(client, guestSrc);
  const files = plan.filter((e) => e.kind === "file");
  const meter = new Meter(
    files.reduce((n, e) => n + e.size, 0),
    files.length,
    opts.onProgress,
  );
  const links: PlanEntry[] = [];
  const dirs: PlanEntry[] = [];
  for (const e of plan) {
    const local = e.rel ? join(localDst, e.rel) : localDst;
    const remote = e.rel ? posix.join(guestSrc, e.rel) : guestSrc;
    if (e.kind === "dir") {
      await mkdir(local, { recursive: true });
      dirs.push(e);
      meter.stats.dirs++;
    } else if (e.kind === "file") {
      await downloadFile(client, remote, local, e.mode, meter);
      meter.fileDone();
    } else if (e.kind === "symlink") {
      links.push(e);
    } else {
      meter.stats.skipped.push(`${remote}: not a file, directory or symlink`);
    }
  }
  for (const batch of batches(links)) {
    const targets = (
      await guestExec(
        client,
        "sh",
        [
          "-c",
          'for p; do t=$(readlink -- "$p") || exit 1; printf "%s\\0" "$t"; done',
          "agentctl",
          ...batch.map((e) => posix.join(guestSrc, e.rel)),
        ],
        guestSrc,
      )
    ).split("\0");
    for (const [i, e] of batch.entries()) {
      const local = join(localDst, e.rel);
      await unlink(local).catch(() => {});
      await symlink(targets[i]!, local);
      meter.stats.symlinks++;
    }
  }
  // Modes deepest first, after the content: a read-only directory is filled before it is closed.
  for (const e of dirs.reverse()) await chmod(e.rel ? join(localDst, e.rel) : localDst, e.mode & 0o7777);
  return meter.stats;
}
