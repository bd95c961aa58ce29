/*
 * The exec round trip of the smallest exec server Bun allows: a byte from the bench port, one
 * Bun.spawn of the command, await its exit, a byte back. No protocol, no framing, no session,
 * no pipes of its own; reading the port blocks the thread (bun:ffi read(2)), as nothing else
 * runs here. Next to agentd's round trip it shows what the runtime costs per exec by itself.
 * Run in the guest by agentd's own binary:
 *   BUN_BE_BUN=1 /.agentd/bin/agentd exec-floor.js /dev/vportNpM CMD ARG...
 */
const { dlopen, FFIType, ptr } = require("bun:ffi");

const libc = dlopen("libc.so.6", {
  open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
}).symbols;
const O_RDWR = 2;

const port = libc.open(ptr(Buffer.from(`${process.argv[2]}\0`)), O_RDWR);
if (port < 0) process.exit(1);
const argv = process.argv.slice(3);
const byte = new Uint8Array(1);
const p = ptr(byte);
for (;;) {
  if (Number(libc.read(port, p, 1)) <= 0) process.exit(0);
  const code = await Bun.spawn(argv, { stdio: ["ignore", "ignore", "ignore"] }).exited;
  byte[0] = code;
  if (Number(libc.write(port, p, 1)) !== 1) process.exit(1);
}
