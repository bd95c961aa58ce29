/**
 * The operations that change the tree without streaming: Mkdir (with parents), Remove (a file),
 * RemoveDir (recursive), Copy (a file, or a directory recursively) and Rename; Copy and Rename
 * create the destination's missing parents.
 */
// node:fs/promises and node:path, loaded on first use (src/lazy-node.ts).
import { nodeFsPromises as fsp, nodePath } from "../../lazy-node.ts";
import { errnoError, step } from "./errors.ts";

export async function mkdirOp(path: string): Promise<void> {
  await step("mkdir", () => fsp().mkdir(path, { recursive: true }));
}

export async function removeOp(path: string): Promise<void> {
  await step("remove", () => fsp().unlink(path));
}

export async function removeDirOp(path: string): Promise<void> {
  await step("remove_dir", async () => {
    const s = await fsp().lstat(path);
    if (!s.isDirectory()) throw errnoError("ENOTDIR", "not a directory");
    await fsp().rm(path, { recursive: true });
  });
}

export async function copyOp(src: string, dst: string): Promise<void> {
  await step("copy", async () => {
    const s = await fsp().lstat(src);
    await fsp().mkdir(nodePath().dirname(dst), { recursive: true });
    if (s.isDirectory()) await fsp().cp(src, dst, { recursive: true, force: true, verbatimSymlinks: true });
    else await fsp().cp(src, dst, { force: true, dereference: true });
  });
}

export async function renameOp(src: string, dst: string): Promise<void> {
  await step("rename", async () => {
    await fsp().mkdir(nodePath().dirname(dst), { recursive: true });
    await fsp().rename(src, dst);
  });
}
