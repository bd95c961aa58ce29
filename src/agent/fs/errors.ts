/**
 * fs.response error text: "<op prefix>: <message>" (PROTOCOL.md §6). Only the prefix is the
 * contract; the message mimics the Rust agent's "No such file or directory (os error 2)" so logs
 * read the same from either agent.
 */
import { nodeOs } from "../../lazy-node.ts";
import { strerror } from "../../sys/libc.ts";

export type FsErrorPrefix =
  | "stat"
  | "opendir"
  | "readdir"
  | "open"
  | "read"
  | "mkdir parent"
  | "open for write"
  | "set permissions"
  | "write"
  | "flush"
  | "mkdir"
  | "remove"
  | "remove_dir"
  | "copy"
  | "rename";

/** An fs failure that already carries its protocol prefix. */
export class FsFailure extends Error {}

/**
 * The OS part of a system error as the Rust agent words it: the C library's strerror text and
 * the errno, "No such file or directory (os error 2)" (libuv's own texts differ).
 */
export function osMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const errno = err.code ? (nodeOs().constants.errno as Record<string, number>)[err.code] : undefined;
  if (errno !== undefined) return errnoText(errno);
  return err.message ?? String(e);
}

/** "No such file or directory (os error 2)". */
function errnoText(errno: number): string {
  return `${strerror(errno)} (os error ${errno})`;
}

export function fsFailure(prefix: FsErrorPrefix, e: unknown): FsFailure {
  if (e instanceof FsFailure) return e;
  return new FsFailure(`${prefix}: ${osMessage(e)}`);
}

/** An FsFailure for a system call that failed with `errno` (0: not known). */
export function fsFailureErrno(prefix: FsErrorPrefix, errno: number): FsFailure {
  return new FsFailure(`${prefix}: ${errno > 0 ? errnoText(errno) : "failed"}`);
}

/** Runs `op`, turning any error into an FsFailure with `prefix`. */
export async function step<T>(prefix: FsErrorPrefix, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw fsFailure(prefix, e);
  }
}

/** An error with the errno name `code` (for failures we detect ourselves, like EISDIR). */
export function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
