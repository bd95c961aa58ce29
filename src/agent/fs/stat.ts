/**
 * Stat and List: lstat semantics (a symlink is reported as a symlink), the path echoed as given,
 * List giving full joined paths and reporting an entry it cannot stat as kind "other".
 */
import { nodeFsPromises } from "../../lazy-node.ts";
import type { Stats, BigIntStats } from "node:fs";
import type { EntryInfo, EntryKind } from "../../protocol/payloads.ts";
import { fsFailure, step } from "./errors.ts";

function kindOf(s: Stats | BigIntStats): EntryKind {
  if (s.isSymbolicLink()) return "symlink";
  if (s.isDirectory()) return "dir";
  if (s.isFile()) return "file";
  return "other";
}

export function entryInfo(path: string, s: BigIntStats): EntryInfo {
  const seconds = s.mtimeMs / 1000n;
  const size = s.size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s.size) : s.size;
  return {
    path,
    kind: kindOf(s),
    size,
    mode: Number(s.mode),
    // Rust reports None for a time before the epoch; so do we.
    modified: s.mtimeMs < 0n ? null : Number(seconds),
  };
}

export async function statOp(path: string): Promise<EntryInfo> {
  const s = await step("stat", () => nodeFsPromises().lstat(path, { bigint: true }));
  return entryInfo(path, s);
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

export async function listOp(path: string): Promise<EntryInfo[]> {
  const dir = await step("opendir", () => nodeFsPromises().opendir(path));
  const out: EntryInfo[] = [];
  try {
    for await (const d of dir) {
      const full = joinPath(path, d.name);
      try {
        out.push(entryInfo(full, await nodeFsPromises().lstat(full, { bigint: true })));
      } catch {
        out.push({ path: full, kind: "other", size: 0, mode: 0, modified: null });
      }
    }
  } catch (e) {
    throw fsFailure("readdir", e);
  }
  return out;
}
