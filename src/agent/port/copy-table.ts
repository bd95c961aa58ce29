/**
 * The table of pipes the port thread copies to the host itself (port/copy-loop.ts), shared with
 * the main thread (port/copier.ts), Int32: [0] slots to scan (up to the highest in use), [1] 1
 * while the port thread holds a frame the port has not taken whole (the host is slow), [2] the
 * connection epoch (the port thread counts each host that connects), then per slot:
 *   FD      the pipe's read end (the main thread closes it once the copy ended)
 *   STATE   FREE, COPYING (set by the main thread), ENDED (set by the port thread)
 *   ID      the session id of the frames
 *   TYPE    which frames: core.exec.stdout, core.exec.stderr or core.fs.data (an index into
 *           TYPES); the last for a file read from memory (fs/read.ts), the others for pipes
 *   READ    bytes read from the pipe so far, modulo 2^32 (Atomics.add wraps)
 *   CANCEL  1: stop at the next frame boundary (set by the main thread)
 *   EPOCH   the connection the copy belongs to: a copy of an earlier one is ended, never sent
 *           to the next host (the main thread may learn that its host left after the port
 *           thread has already seen the next one connect)
 * Pure functions over the array, used from both sides.
 */
import type { DataMessageType } from "../../protocol/frame-head.ts";

/** Copies at once: two per exec session (stdout and stderr). */
export const MAX_COPIES = 1024;

const HEADER = 3;
const WORDS = 7;
const FD = 0;
const STATE = 1;
const ID = 2;
const TYPE = 3;
const READ = 4;
const CANCEL = 5;
const EPOCH = 6;

const FREE = 0;
const COPYING = 1;
const ENDED = 2;

export const END_EOF = 1;
export const END_ERROR = 2;
export const END_CANCELLED = 3;
/** A read that failed with an errno ends with END_ERRNO + errno (the main thread's error text). */
export const END_ERRNO = 16;
export type EndCode = number;

/** The end code of a read that failed with `errno` (END_ERROR when it is not known). */
export function errnoEnd(errno: number): EndCode {
  return errno > 0 ? END_ERRNO + errno : END_ERROR;
}

/** The errno an end code carries, or 0. */
export function endErrno(code: EndCode): number {
  return code >= END_ERRNO ? code - END_ERRNO : 0;
}

const TYPES: readonly DataMessageType[] = ["core.exec.stdout", "core.exec.stderr", "core.fs.data"];
export type CopyType = "core.exec.stdout" | "core.exec.stderr" | "core.fs.data";

export function newCopyTable(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (HEADER + MAX_COPIES * WORDS));
}

const at = (slot: number, word: number) => HEADER + slot * WORDS + word;

/** Main thread: arms `slot` to copy `fd` as frames of `type` for session `id`. */
export function startCopy(
  t: Int32Array,
  slot: number,
  fd: number,
  id: number,
  type: CopyType,
  epoch: number,
): void {
  Atomics.store(t, at(slot, EPOCH), epoch);
  Atomics.store(t, at(slot, FD), fd);
  Atomics.store(t, at(slot, ID), id);
  Atomics.store(t, at(slot, TYPE), TYPES.indexOf(type));
  Atomics.store(t, at(slot, READ), 0);
  Atomics.store(t, at(slot, CANCEL), 0);
  Atomics.store(t, at(slot, STATE), COPYING);
}

/** Main thread: slots from 0 to `n` are all the port thread needs to look at (see copier.ts). */
export function setCopiesUsed(t: Int32Array, n: number): void {
  Atomics.store(t, 0, n);
}

export function cancelCopy(t: Int32Array, slot: number): void {
  Atomics.store(t, at(slot, CANCEL), 1);
}

export function freeCopy(t: Int32Array, slot: number): void {
  Atomics.store(t, at(slot, STATE), FREE);
}

/** Bytes read from the slot's pipe so far, modulo 2^32 (as a signed Int32). */
export function bytesCopied(t: Int32Array, slot: number): number {
  return Atomics.load(t, at(slot, READ));
}

/** Port thread: a host connected; returns its epoch (copies of earlier ones are ended). */
export function nextEpoch(t: Int32Array): number {
  return Atomics.add(t, 2, 1) + 1;
}

export function currentEpoch(t: Int32Array): number {
  return Atomics.load(t, 2);
}

/** The port thread holds a frame the port has not taken whole. */
export function portBlocked(t: Int32Array): boolean {
  return Atomics.load(t, 1) === 1;
}

export function setPortBlocked(t: Int32Array, blocked: boolean): void {
  Atomics.store(t, 1, blocked ? 1 : 0);
}

/** One copy as the port thread sees it (objects reused from round to round). */
export interface CopyEntry {
  slot: number;
  fd: number;
  id: number;
  type: DataMessageType;
  /** Cancelled by the main thread, or of an earlier connection: to be ended, not copied. */
  cancel: boolean;
}

/**
 * The slots being copied now into `into`, reusing its objects (the port thread's loop runs this
 * every round and must not make garbage per copy); returns how many entries are current.
 */
export function collectCopies(t: Int32Array, into: CopyEntry[]): number {
  const used = Atomics.load(t, 0);
  const epoch = Atomics.load(t, 2);
  let n = 0;
  for (let s = 0; s < used; s++) {
    if (Atomics.load(t, at(s, STATE)) !== COPYING) continue;
    const e = (into[n] ??= { slot: 0, fd: -1, id: 0, type: TYPES[0]!, cancel: false });
    e.slot = s;
    e.fd = Atomics.load(t, at(s, FD));
    e.id = Atomics.load(t, at(s, ID));
    e.type = TYPES[Atomics.load(t, at(s, TYPE))] ?? TYPES[0]!;
    e.cancel = Atomics.load(t, at(s, CANCEL)) === 1 || Atomics.load(t, at(s, EPOCH)) !== epoch;
    n++;
  }
  return n;
}

/** Port thread: `n` more bytes were read from the slot's pipe. */
export function addCopied(t: Int32Array, slot: number, n: number): void {
  Atomics.add(t, at(slot, READ), n);
}

/**
 * Port thread: the copy ended (the main thread is told why in the port thread's report, then
 * closes the pipe and frees the slot).
 */
export function endCopy(t: Int32Array, slot: number): void {
  Atomics.store(t, at(slot, STATE), ENDED);
}
