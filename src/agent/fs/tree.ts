/**
 * The operations that change the tree without streaming: Mkdir (with parents), Remove (a file),
 * RemoveDir (recursive), Copy (a file, or a directory recursively) and Rename; Copy and Rename
 * create the destination's missing parents.
 */
import { cp, lstat, mkdir, rename, rm, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { errnoError, step } from "./errors.ts";

export async function mkdirOp(path: string): Promise<void> {
  await step("mkdir", () => mkdir(path, { recursive: true }));
}

export async function removeOp(path: string): Promise<void> {
  await step("remove", () => unlink(path));
}

export async function removeDirOp(path: string): Promise<void> {
  await step("remove_dir", async () => {
    const s = await lstat(path);
    if (!s.isDirectory()) throw errnoError("ENOTDIR", "not a directory");
    await rm(path, { recursive: true });
  });
}

export async function copyOp(src: string, dst: string): Promise<void> {
  await step("copy", async () => {
    const s = await lstat(src);
    await mkdir(dirname(dst), { recursive: true });
    if (s.isDirectory()) await cp(src, dst, { recursive: true, force: true, verbatimSymlinks: true });
    else await cp(src, dst, { force: true, dereference: true });
  });
}

export async function renameOp(src: string, dst: string): Promise<void> {
  await step("rename", async () => {
    await mkdir(dirname(dst), { recursive: true });
    await rename(src, dst);
  });
}
