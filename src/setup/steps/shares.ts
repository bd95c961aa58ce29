/**
 * Steps 4 and 5: virtiofs shares. MSB_DIR_MOUNTS mounts each tag at its path (nosuid, nodev,
 * relatime, +ro). MSB_FILE_MOUNTS mounts each tag once at /.msb/file-mounts/<tag>, binds the named
 * files onto their paths (created with their parents; ro: remounted read-only), then detaches the
 * staging mount so only the bound files stay visible.
 */
import { exists, joinPath, makeDirs, parentDir, touch } from "../../sys/files.ts";
import { FILE_MOUNTS_DIR } from "../../protocol/constants.ts";
import {
  mount,
  MNT_DETACH,
  MS_BIND,
  MS_NODEV,
  MS_NOSUID,
  MS_RDONLY,
  MS_RELATIME,
  MS_REMOUNT,
  umount,
} from "../../sys/mount.ts";
import type { DirMount, FileMount } from "../grammar.ts";

const SHARE_FLAGS = MS_NOSUID | MS_NODEV | MS_RELATIME;

export function mountDirShares(entries: readonly DirMount[]): void {
  for (const m of entries) {
    makeDirs(m.path);
    mount(m.tag, m.path, "virtiofs", SHARE_FLAGS | (m.readonly ? MS_RDONLY : 0));
  }
}

function ensureFile(path: string): void {
  if (exists(path)) return;
  makeDirs(parentDir(path));
  touch(path);
}

export function mountFileShares(entries: readonly FileMount[], stagingRoot = FILE_MOUNTS_DIR): void {
  const byTag = new Map<string, FileMount[]>();
  for (const f of entries) byTag.set(f.tag, [...(byTag.get(f.tag) ?? []), f]);
  for (const [tag, files] of byTag) {
    const staging = joinPath(stagingRoot, tag);
    makeDirs(staging);
    mount(tag, staging, "virtiofs", SHARE_FLAGS);
    try {
      for (const f of files) {
        const source = joinPath(staging, f.file);
        if (!exists(source)) throw new Error(`file '${f.file}' is not in share '${tag}'`);
        ensureFile(f.path);
        mount(source, f.path, null, MS_BIND);
        if (f.readonly) mount(source, f.path, null, MS_BIND | MS_REMOUNT | MS_RDONLY | SHARE_FLAGS);
      }
    } finally {
      umount(staging, MNT_DETACH);
    }
  }
}
