/**
 * Small-file and directory operations through libc, for what runs before core.ready: the setup
 * steps, finding the port, the upload journal's cleanup. Bun's node:fs, node:path and node:os are
 * JavaScript modules that Bun compiles the first time they are required, and under TCG that first
 * time is slow: a compiled program that imports them reached its first line 50-60 ms later than
 * one that imports only bun:ffi (cold starts in the guest, 324-335 against 272-282 ms after Bun's
 * start). agentd needs bun:ffi anyway, so its start uses these and leaves node:* to the requests
 * that need them (src/lazy-node.ts).
 *
 * Errors are SysErrors naming the call and the path ("mkdir(/x/y): EACCES: Permission denied").
 */
import { cstr, utf8 } from "./cstr.ts";
import { O_CLOEXEC, openFd, readFd, writeFd } from "./fd-io.ts";
import { check, closeFd, errnoNow, libc, SysError } from "./libc.ts";

const O_RDONLY = 0;
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o200000;
const ENOENT = 2;
const EEXIST = 17;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
/** struct stat on x86-64 is 144 bytes; st_mode is the u32 at offset 24. */
const STAT_SIZE = 144;
const STAT_MODE_OFFSET = 24;
const READ_CHUNK = 64 * 1024;

const decoder = new TextDecoder();
let scratch: Uint8Array | null = null;

const openPath = (path: string, flags: number, mode = 0) => openFd(path, flags | O_CLOEXEC, mode);

function writeAll(fd: number, bytes: Uint8Array, path: string): void {
  for (let done = 0; done < bytes.length;) {
    const n = writeFd(fd, bytes.subarray(done), path);
    // -EAGAIN: interrupted (a file's descriptor does not block otherwise); write again.
    if (n > 0) done += n;
  }
}

/** The whole file's bytes (also /proc and /sys files, whose size stat reports as 0). */
export function readBytes(path: string): Uint8Array {
  const fd = openPath(path, O_RDONLY);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    // One buffer per thread for every read, each chunk copied out at its size: a new 64 KiB
    // buffer per read (the last one only to see the end) cost 1.4-3.7 ms of setup at boot.
    scratch ??= new Uint8Array(READ_CHUNK);
    for (;;) {
      const n = readFd(fd, scratch, path);
      if (n < 0) continue; // interrupted: read again
      if (n === 0) break;
      chunks.push(scratch.slice(0, n));
      total += n;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeFd(fd);
  }
}

export function readText(path: string): string {
  return decoder.decode(readBytes(path));
}

/** Creates or truncates `path` and writes `data` (mode for a new file, before the umask). */
export function writeText(path: string, data: string | Uint8Array, mode = 0o666): void {
  const fd = openPath(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  try {
    writeAll(fd, typeof data === "string" ? utf8(data) : data, path);
  } finally {
    closeFd(fd);
  }
}

/** Appends `data` to `path`, creating it when missing. */
export function appendText(path: string, data: string, mode = 0o666): void {
  const fd = openPath(path, O_WRONLY | O_CREAT | O_APPEND, mode);
  try {
    writeAll(fd, utf8(data), path);
  } finally {
    closeFd(fd);
  }
}

/** Creates `path` empty when missing; leaves an existing file as it is. */
export function touch(path: string, mode = 0o666): void {
  closeFd(openPath(path, O_WRONLY | O_CREAT, mode));
}

/** struct stat of `path` (following a final symlink unless `noFollow`), null when nothing is there. */
function statOf(path: string, noFollow: boolean): DataView | null {
  const st = new Uint8Array(STAT_SIZE);
  const r = noFollow ? libc().lstat(cstr(path), st) : libc().stat(cstr(path), st);
  if (r === 0) return new DataView(st.buffer);
  const e = errnoNow();
  if (e === ENOENT || e === 20 /* ENOTDIR: a file where a directory was expected */) return null;
  throw new SysError(noFollow ? "lstat" : "stat", path, e);
}

/** st_mode of `path` (following a final symlink unless `noFollow`), null when nothing is there. */
export function fileMode(path: string, noFollow = false): number | null {
  return statOf(path, noFollow)?.getUint32(STAT_MODE_OFFSET, true) ?? null;
}

/** struct stat's st_dev, st_ino, st_size, st_mtim (sec, nsec) and st_ctim (sec, nsec) (x86-64). */
const VERSION_FIELDS = [0, 8, 48, 88, 96, 104, 112];

/**
 * What identifies a version of the file at `path`: its device, inode, size, modification and
 * change times (VERSION_FIELDS); null when nothing is there.
 */
export function fileVersion(path: string): string | null {
  const st = statOf(path, false);
  if (!st) return null;
  // Each 64-bit field as its two 32-bit halves, joined by hand: no BigInt, map() or join(),
  // which a guest's first exec (user-db.ts) would run for the first time.
  let v = "";
  for (let i = 0; i < VERSION_FIELDS.length; i++) {
    const at = VERSION_FIELDS[i]!;
    v += `${st.getUint32(at + 4, true)}.${st.getUint32(at, true)}:`;
  }
  return v;
}

/**
 * Whether something is at `path` (a symlink counts as what it points to). As node's existsSync,
 * any failure to look (EACCES, ELOOP) is "no".
 */
export function exists(path: string): boolean {
  return modeIfVisible(path) !== null;
}

/** Whether `path` itself exists, a dangling symlink included (failures are "no", as exists). */
export function existsNoFollow(path: string): boolean {
  return modeIfVisible(path, true) !== null;
}

/** Whether `path` is a directory or a symlink to one (failures are "no", as exists). */
export function isDirectory(path: string): boolean {
  const mode = modeIfVisible(path);
  return mode !== null && (mode & S_IFMT) === S_IFDIR;
}

/** fileMode, with a failure to look taken for nothing there. */
function modeIfVisible(path: string, noFollow = false): number | null {
  try {
    return fileMode(path, noFollow);
  } catch {
    return null;
  }
}

/** mkdir -p: creates `path` and its missing parents; an existing directory is fine. */
export function makeDirs(path: string, mode = 0o777): void {
  if (libc().mkdir(cstr(path), mode) === 0) return;
  const e = errnoNow();
  if (e === EEXIST) {
    if (isDirectory(path)) return;
    throw new SysError("mkdir", path, e);
  }
  const parent = parentDir(path);
  if (e !== ENOENT || parent === path) throw new SysError("mkdir", path, e);
  makeDirs(parent, mode);
  if (libc().mkdir(cstr(path), mode) !== 0) {
    const again = errnoNow();
    if (!(again === EEXIST && isDirectory(path))) throw new SysError("mkdir", path, again);
  }
}

export function chmod(path: string, mode: number): void {
  check(libc().chmod(cstr(path), mode), "chmod", path);
}

export function symlink(target: string, path: string): void {
  check(libc().symlink(cstr(target), cstr(path)), "symlink", `${path} -> ${target}`);
}

export function unlink(path: string): void {
  check(libc().unlink(cstr(path)), "unlink", path);
}

export function copyFile(from: string, to: string): void {
  writeText(to, readBytes(from));
}

/**
 * The names in a directory, without "." and "..", in the kernel's order. getdents64(2) records:
 * u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, then the NUL-terminated name.
 */
export function listDir(path: string): string[] {
  const fd = openPath(path, O_RDONLY | O_DIRECTORY);
  try {
    const names: string[] = [];
    const buf = new Uint8Array(32 * 1024);
    const view = new DataView(buf.buffer);
    for (;;) {
      const n = Number(libc().getdents64(fd, buf, buf.length));
      if (n < 0) throw new SysError("getdents64", path, errnoNow());
      if (n === 0) return names;
      names.push(...direntNames(buf, view, n));
    }
  } finally {
    closeFd(fd);
  }
}

/** The names in `length` bytes of getdents64 records (pure: tested on built records). */
export function direntNames(buf: Uint8Array, view: DataView, length: number): string[] {
  const names: string[] = [];
  for (let at = 0; at + 19 < length;) {
    const reclen = view.getUint16(at + 16, true);
    if (reclen < 20 || at + reclen > length) break;
    const nameEnd = buf.indexOf(0, at + 19);
    const name = decoder.decode(
      buf.subarray(at + 19, nameEnd < 0 || nameEnd > at + reclen ? at + reclen : nameEnd),
    );
    if (name !== "." && name !== "..") names.push(name);
    at += reclen;
  }
  return names;
}

/*
 * The two path helpers below are plain loops, not regular expressions: a program's first regular
 * expression took 11-12 ms at boot under TCG (5 ms with JavaScriptCore's regexp JIT off), which
 * agentd's start need not pay.
 */

/** Joins path pieces with single slashes ("/" + "etc" → "/etc", "/a/" + "/b" → "/a/b"). */
export function joinPath(...parts: string[]): string {
  let out = "";
  for (const part of parts) {
    if (part === "") continue;
    out = out === "" ? part : out.endsWith("/") || part.startsWith("/") ? out + part : `${out}/${part}`;
  }
  return collapseSlashes(out);
}

function collapseSlashes(path: string): string {
  if (!path.includes("//")) return path;
  let out = "";
  for (let i = 0; i < path.length; i++) if (!(path[i] === "/" && out.endsWith("/"))) out += path[i];
  return out;
}

/** The directory part of `path` ("/a/b" → "/a", "/a/b/" → "/a", "/a" → "/", "a" → "."). */
export function parentDir(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  let at = path.lastIndexOf("/", end - 1);
  if (at < 0) return ".";
  while (at > 0 && path[at - 1] === "/") at--;
  return at === 0 ? "/" : collapseSlashes(path.slice(0, at));
}

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks every descriptor above stdio close-on-exec. Bun opens some descriptors (a terminal's
 * PTY master among them) without O_CLOEXEC; a program agentd starts must not inherit them.
 */
export function closeOnExecAll(): number {
  const lib = libc();
  let fixed = 0;
  for (const name of listDir("/proc/self/fd")) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    const flags = lib.fcntl(fd, F_GETFD, 0);
    if (flags >= 0 && !(flags & FD_CLOEXEC) && lib.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) fixed++;
  }
  return fixed;
}
