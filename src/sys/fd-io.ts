/**
 * Raw descriptor I/O for the virtio port: open, non-blocking read and write straight from and
 * into typed arrays (no copies, no exceptions on EAGAIN), poll, and a wake-up pipe.
 */
import type { Pointer } from "bun:ffi";
import { cstr } from "./cstr.ts";
import { check, errnoNow, libc, ptr, SysError } from "./libc.ts";

export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export { POLLERR, POLLHUP, POLLIN, POLLOUT } from "./poll-events.ts";
export const EAGAIN = 11;
export const EINTR = 4;

/** open(2); `mode` is for a file O_CREAT makes (before the umask). */
export function openFd(path: string, flags: number, mode = 0): number {
  return check(libc().open(cstr(path), flags, mode), "open", path);
}

/** read(2): bytes read, 0 at end, -EAGAIN when nothing is there now. Throws on other errors. */
export function readFd(fd: number, buf: Uint8Array, subject: string): number {
  return readFdAt(fd, ptr(buf), buf.length, subject);
}

/**
 * read(2) into raw memory at `address` (from `ptr` of a buffer that does not move, such as a
 * SharedArrayBuffer): as readFd, for a loop that must not make a view per call.
 */
export function readFdAt(fd: number, address: number, length: number, subject: string): number {
  return transferred(Number(libc().read(fd, address as Pointer, length)), "read", subject);
}

/** A read/write result: the count, or -EAGAIN when the call would block (or was interrupted). */
function transferred(n: number, call: string, subject: string): number {
  if (n >= 0) return n;
  const e = errnoNow();
  if (e === EAGAIN || e === EINTR) return -EAGAIN;
  throw new SysError(call, subject, e);
}

/** write(2): bytes written, or -EAGAIN when the descriptor cannot take more now. */
export function writeFd(fd: number, buf: Uint8Array, subject: string): number {
  return buf.length === 0 ? 0 : writeFdAt(fd, ptr(buf), buf.length, subject);
}

/** write(2) from raw memory at `address`: as writeFd, for a loop that must not make a view per call. */
export function writeFdAt(fd: number, address: number, length: number, subject: string): number {
  return transferred(Number(libc().write(fd, address as Pointer, length)), "write", subject);
}

/**
 * The most a write(2) to a virtio console port takes: virtio_console's port_fops_write copies at
 * most 32 KiB into one virtio buffer per call (measured in the guest: a 256 KiB write returns
 * 32768).
 */
export const PORT_WRITE_MAX = 32 * 1024;
/** Segments of one writev(2): 64 x 32 KiB = 2 MiB; the caller's loop writes what is left. */
const MAX_SEGMENTS = 64;

/**
 * write(2) of `length` bytes at `address` as one writev(2) of `chunk`-sized segments: bytes
 * written, or -EAGAIN when the descriptor takes nothing now. For the port, whose write(2) takes
 * 32 KiB a call: virtio_console has no write_iter, so the kernel calls its write once per segment
 * inside the one system call and stops at the first short one; a 256 KiB frame is one call from
 * JavaScript instead of nine. The segments are described in a per-thread scratch array.
 */
export function writeChunkedAt(
  fd: number,
  address: number,
  length: number,
  chunk: number,
  subject: string,
): number {
  const iov = iovScratch();
  let count = 0;
  // struct iovec { void *base; size_t len; } as 32-bit halves (little-endian x86-64): no
  // BigInt per segment.
  for (let at = 0; at < length && count < MAX_SEGMENTS; at += chunk, count++) {
    const base = address + at;
    const i = count * 4;
    iov.words[i] = base >>> 0;
    iov.words[i + 1] = Math.floor(base / 0x100000000);
    iov.words[i + 2] = Math.min(chunk, length - at);
  }
  return transferred(Number(libc().writev(fd, iov.address as Pointer, count)), "writev", subject);
}

/** writeChunkedAt of `buf` from byte `from` on (no view made per call). */
export function writeChunked(
  fd: number,
  buf: Uint8Array,
  from: number,
  chunk: number,
  subject: string,
): number {
  return from >= buf.length ? 0 : writeChunkedAt(fd, ptr(buf) + from, buf.length - from, chunk, subject);
}

let scratch: { words: Uint32Array; address: number } | null = null;
function iovScratch(): { words: Uint32Array; address: number } {
  if (scratch) return scratch;
  const words = new Uint32Array(MAX_SEGMENTS * 4); // the length's high half stays 0
  scratch = { words, address: ptr(words) };
  return scratch;
}

/**
 * A pollfd array kept for a loop that polls again and again (the port thread): filled in place
 * and polled with no allocation per round, where a new array per poll(2) was an ArrayBuffer of
 * garbage per wake-up in a thread whose collector runs only when it allocates.
 */
export class PollSet {
  readonly #raw: Int32Array;
  readonly #shorts: Int16Array;
  readonly #address: number;
  #count = 0;

  constructor(readonly capacity: number) {
    this.#raw = new Int32Array(capacity * 2);
    this.#shorts = new Int16Array(this.#raw.buffer);
    this.#address = ptr(this.#raw);
  }

  /** Empties the set for the next round. */
  clear(): void {
    this.#count = 0;
  }

  /** Adds a descriptor (a negative one is ignored by poll(2)); returns its index. */
  add(fd: number, events: number): number {
    if (this.#count === this.capacity) throw new RangeError(`poll set full (${this.capacity} descriptors)`);
    const i = this.#count++;
    this.#raw[i * 2] = fd;
    this.#shorts[i * 4 + 2] = events;
    this.#shorts[i * 4 + 3] = 0;
    return i;
  }

  /** poll(2) over the set; an interrupted poll reads as nothing ready. */
  poll(timeoutMs: number): void {
    const r = libc().poll(this.#address as Pointer, this.#count, timeoutMs);
    if (r >= 0) return;
    const e = errnoNow();
    for (let i = 0; i < this.#count; i++) this.#shorts[i * 4 + 3] = 0;
    if (e !== EINTR) throw new SysError("poll", this.#fds().join(","), e);
  }

  /** What poll(2) reported for the descriptor at index i. */
  revents(i: number): number {
    return this.#shorts[i * 4 + 3]! & 0xffff;
  }

  #fds(): number[] {
    const fds: number[] = [];
    for (let i = 0; i < this.#count; i++) fds.push(this.#raw[i * 2]!);
    return fds;
  }
}

/** statfs(2) f_type of a filesystem whose files live in memory: tmpfs (and the initramfs root). */
const TMPFS_MAGIC = 0x01021994;
/** The same for ramfs. */
const RAMFS_MAGIC = 0x858458f6;

/**
 * True when `fd`'s filesystem keeps its files in memory (tmpfs, ramfs): a read(2) of a regular
 * file there is a copy from the page cache and never waits on a device. False when fstatfs(2)
 * fails.
 */
export function inMemoryFilesystem(fd: number): boolean {
  // struct statfs is 120 bytes on x86-64; f_type, a long, comes first.
  const buf = new Uint32Array(32);
  if (libc().fstatfs(fd, ptr(buf)) !== 0) return false;
  return buf[0] === TMPFS_MAGIC || buf[0] === RAMFS_MAGIC;
}

const FIONREAD = 0x541b;

/** Bytes a pipe (or socket) holds now, from ioctl FIONREAD; 0 when the descriptor cannot say. */
export function bytesReadable(fd: number): number {
  const n = new Int32Array(1);
  return libc().ioctl(fd, FIONREAD, ptr(n)) === 0 ? n[0]! : 0;
}

/**
 * socketpair(2), a stream both ways, non-blocking and close-on-exec: a stand-in for the virtio
 * port (one descriptor read and written, POLLHUP once the other end is gone) where there is none.
 */
export function socketPair(): [number, number] {
  const AF_UNIX = 1;
  const SOCK_STREAM = 1;
  const fds = new Int32Array(2);
  check(
    libc().socketpair(AF_UNIX, SOCK_STREAM | O_NONBLOCK | O_CLOEXEC, 0, ptr(fds)),
    "socketpair",
    "port stand-in",
  );
  return [fds[0]!, fds[1]!];
}

/** pipe2(2) with O_CLOEXEC|O_NONBLOCK: [read end, write end]. */
export function wakePipe(): [number, number] {
  const fds = new Int32Array(2);
  check(libc().pipe2(ptr(fds), O_CLOEXEC | O_NONBLOCK), "pipe2", "wake");
  return [fds[0]!, fds[1]!];
}

const F_SETFL = 4;
const F_DUPFD_CLOEXEC = 1030;
const F_SETPIPE_SZ = 1031;

/** A second descriptor for what `fd` refers to, close-on-exec (fcntl F_DUPFD_CLOEXEC). */
export function dupFd(fd: number, subject: string): number {
  return check(libc().fcntl(fd, F_DUPFD_CLOEXEC, 3), "fcntl(F_DUPFD_CLOEXEC)", subject);
}

/**
 * A pipe for a child's output: [read end (non-blocking, close-on-exec), write end (blocking,
 * close-on-exec: the child gets it through dup2, which clears the flag on its copy)]. The
 * capacity is raised to `capacity` where the kernel allows (fs.pipe-max-size); a smaller pipe
 * still works, only with more wake-ups.
 */
export function outputPipe(capacity: number): [number, number] {
  return childPipe(capacity, 0);
}

/**
 * A pipe for a child's stdin: [read end (blocking, for the child), write end (agentd's:
 * non-blocking)], both close-on-exec, capacity as for outputPipe.
 */
export function inputPipe(capacity: number): [number, number] {
  return childPipe(capacity, 1);
}

function childPipe(capacity: number, ours: 0 | 1): [number, number] {
  const fds = new Int32Array(2);
  check(libc().pipe2(ptr(fds), O_CLOEXEC), "pipe2", "child pipe");
  const [r, w] = [fds[0]!, fds[1]!];
  if (libc().fcntl(fds[ours]!, F_SETFL, O_NONBLOCK) === -1) {
    const e = errnoNow();
    libc().close(r);
    libc().close(w);
    throw new SysError("fcntl(F_SETFL)", "child pipe", e);
  }
  libc().fcntl(r, F_SETPIPE_SZ, capacity);
  return [r, w];
}
