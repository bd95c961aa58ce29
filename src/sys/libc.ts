/**
 * The one place that touches bun:ffi: libc is opened lazily on first use (host-mode tools that
 * never make a raw syscall pay nothing), and every call's failure becomes a SysError naming the
 * call, its subject and the errno name and text.
 */
import { dlopen, FFIType, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { ERRNO_NAMES } from "./errno-names.ts";
import { AgentdError, ErrorCodes } from "../errors.ts";

const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"];

const SYMBOLS = {
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  dup: { args: [FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  // fcntl is variadic; declared with a fixed int argument, which the x86-64 ABI passes the same.
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  open: { args: [FFIType.cstring, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  // ssize_t as i64_fast: a number (i64 makes a BigInt per call, garbage in the port thread's
  // loop, which reads the port 4 KiB at a time and never yields to its event loop).
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  fstatfs: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  writev: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  mount: {
    args: [FFIType.cstring, FFIType.cstring, FFIType.cstring, FFIType.u64, FFIType.cstring],
    returns: FFIType.i32,
  },
  umount2: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  chroot: { args: [FFIType.cstring], returns: FFIType.i32 },
  sethostname: { args: [FFIType.cstring, FFIType.u64], returns: FFIType.i32 },
  sync: { args: [], returns: FFIType.void },
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  sendto: {
    args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
    returns: FFIType.i64_fast,
  },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
  // ioctl is variadic; the third argument is a pointer for every request used here.
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  chdir: { args: [FFIType.cstring], returns: FFIType.i32 },
  execve: { args: [FFIType.cstring, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  reboot: { args: [FFIType.i32], returns: FFIType.i32 },
  tcgetattr: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  tcsetattr: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  cfmakeraw: { args: [FFIType.ptr], returns: FFIType.void },
  // Files and directories before core.ready (files.ts).
  mkdir: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  stat: { args: [FFIType.cstring, FFIType.ptr], returns: FFIType.i32 },
  lstat: { args: [FFIType.cstring, FFIType.ptr], returns: FFIType.i32 },
  chmod: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  symlink: { args: [FFIType.cstring, FFIType.cstring], returns: FFIType.i32 },
  unlink: { args: [FFIType.cstring], returns: FFIType.i32 },
  getdents64: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
} as const;

type Libc = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

let libc: Libc | null = null;

function open(): Libc {
  if (libc) return libc;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      libc = dlopen(name, SYMBOLS).symbols;
      return libc;
    } catch (e) {
      lastError = e;
    }
  }
  throw new AgentdError(ErrorCodes.SYSCALL, `cannot load libc: ${String(lastError)}`);
}

/**
 * errno's address is fixed for a thread, and module state here is per thread (a Worker loads its
 * own copy): one view, made on the first failure, instead of a new ArrayBuffer per EAGAIN.
 */
let errnoView: Int32Array | null = null;

/** The calling thread's errno, read right after the failed call (no call in between). */
export function errnoNow(): number {
  errnoView ??= new Int32Array(toArrayBuffer(open().__errno_location() as Pointer, 0, 4));
  return errnoView[0]!;
}

export class SysError extends AgentdError {
  constructor(
    readonly call: string,
    readonly subject: string,
    readonly errno: number,
  ) {
    const text = strerror(errno);
    super(ErrorCodes.SYSCALL, `${call}(${subject}): ${ERRNO_NAMES[errno] ?? `errno ${errno}`}: ${text}`);
    this.name = "SysError";
  }
}

/** The C library's text for an errno ("No such file or directory"), as the Rust agent prints it. */
export function strerror(errnoValue: number): string {
  return open().strerror(errnoValue)?.toString() ?? `errno ${errnoValue}`;
}

/** Throws a SysError when a libc call returned -1. */
export function check(result: number, call: string, subject: string): number {
  if (result === -1) throw new SysError(call, subject, errnoNow());
  return result;
}

export function closeFd(fd: number): void {
  open().close(fd);
}

/** The loaded libc symbols, for the other modules of src/sys. */
export { open as libc, ptr };
