/*
 * The benchmark's pipe-to-port relay in Bun, the runtime agentd is built on: the same loop as
 * relay.c (blocking read(2) of stdin 1 MiB at a time, write(2) to the port) through bun:ffi,
 * with no event loop, framing or host protocol. Next to relay.c it shows what the runtime itself
 * costs here. Run in the guest by agentd's own binary:
 *   dd ... | BUN_BE_BUN=1 /.agentd/bin/agentd relay.js /dev/vportNpM [polled]
 * `polled`: as relay.c's out-polled, a second thread (a Worker, as agentd's port thread is one)
 * waits in poll(2) for input on the port the whole time, which an agent must do while it writes;
 * the port is then non-blocking and a full one is waited for as relay.c's write_all does (this
 * guest kernel can miss the wake-up of a writer blocked in write(2) while another thread polls).
 * Ends by printing the process's CPU time on stderr ("cpu USER SYS" in seconds), as relay.c does.
 * `relay.js in /dev/vportNpM BYTES | cat ...`: stdin's job, as relay.c's `in`.
 */
const { dlopen, FFIType, ptr, read } = require("bun:ffi");
const { isMainThread, workerData, Worker } = require("node:worker_threads");

const libc = dlopen("libc.so.6", {
  open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
}).symbols;
const EAGAIN = 11;
const errno = () => read.i32(libc.__errno_location(), 0);
const O_WRONLY = 1;
const O_RDWR = 2;
const O_NONBLOCK = 2048;
const F_SETPIPE_SZ = 1031;
const POLLIN = 1;
const POLLOUT = 4;
const POLLHUP = 16;

/* The polling thread: what arrives is dropped; no host means a pause, as in relay.c. */
function pollInput(fd) {
  const set = new Int32Array([fd, POLLIN]);
  const events = new Int16Array(set.buffer);
  const drop = new Uint8Array(4096);
  for (;;) {
    events[3] = 0;
    if (libc.poll(ptr(set), 1, -1) < 0) continue;
    if (events[3] & POLLIN && Number(libc.read(fd, ptr(drop), drop.length)) <= 0) Bun.sleepSync(50);
    else if (events[3] & POLLHUP) Bun.sleepSync(50);
  }
}

/* A poll(2) entry for writeAll's waits: fd, then events | revents << 16. */
const writable = new Int32Array(2);

/*
 * Writes all of [p, p + n) to fd, as relay.c's write_all: a non-blocking fd that is full (the
 * polled relay's port) is waited for in poll(2) for at most 100 ms at a time, since this guest
 * kernel can miss a writer's wake-up while another thread polls the port. Ends the relay on any
 * other failure.
 */
function writeAll(fd, p, n) {
  for (let at = 0; at < n;) {
    const w = Number(libc.write(fd, p + at, n - at));
    if (w < 0 && errno() === EAGAIN) {
      writable[0] = fd;
      writable[1] = POLLOUT;
      libc.poll(ptr(writable), 1, 100);
      continue;
    }
    if (w <= 0) end(1);
    at += w;
  }
}

function end(code) {
  const { user, system } = process.cpuUsage();
  // Synchronously: process.exit() would drop a write still queued on stderr.
  require("node:fs").writeSync(2, `cpu ${(user / 1e6).toFixed(6)} ${(system / 1e6).toFixed(6)}\n`);
  process.exit(code);
}

if (!isMainThread) {
  // Polling from here on: the relay may start (it waits, so the Worker's start is not timed).
  Atomics.store(workerData.up, 0, 1);
  Atomics.notify(workerData.up, 0);
  pollInput(workerData.fd);
} else if (process.argv[2] === "in") {
  // stdin's job, as relay.c's `in`: BYTES read from the port (it hands over one 4 KiB buffer per
  // read(2)), 64 KiB asked per call, each written whole to stdout (a pipe).
  const port = libc.open(ptr(Buffer.from(`${process.argv[3]}\0`)), 0);
  if (port < 0) process.exit(1);
  libc.fcntl(1, F_SETPIPE_SZ, 1 << 20);
  const want = Number(process.argv[4]);
  const buf = new Uint8Array(65536);
  const p = ptr(buf);
  for (let got = 0; got < want;) {
    const n = Number(libc.read(port, p, Math.min(buf.length, want - got)));
    if (n <= 0) end(1);
    writeAll(1, p, n);
    got += n;
  }
  end(0);
} else {
  const polled = process.argv[3] === "polled";
  const out = libc.open(ptr(Buffer.from(`${process.argv[2]}\0`)), polled ? O_RDWR | O_NONBLOCK : O_WRONLY);
  if (out < 0) process.exit(1);
  if (polled) {
    const up = new Int32Array(new SharedArrayBuffer(4));
    new Worker(__filename, { workerData: { fd: out, up } }).unref();
    // A Worker that never came up would make this row the relay without one: fail it instead.
    if (Atomics.wait(up, 0, 0, 5000) === "timed-out") end(1);
  }
  libc.fcntl(0, F_SETPIPE_SZ, 1 << 20);
  const buf = new Uint8Array(1024 * 1024);
  const p = ptr(buf);
  for (;;) {
    const n = Number(libc.read(0, p, buf.length));
    if (n <= 0) end(n === 0 ? 0 : 1);
    // The port takes at most 32 KiB per write(2).
    writeAll(out, p, n);
  }
}
