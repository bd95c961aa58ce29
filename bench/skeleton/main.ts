/**
 * The least a Bun agent of agentd's design does before it can answer a host: its port thread in
 * a Worker (which opens libc through bun:ffi, as agentd's reader does) and libc opened on the
 * main thread, then the Worker's first message. bench/vm.ts runs it cold in the guest (a fresh
 * copy, so no code of it was translated by TCG yet) and prints when each point was reached, in ms
 * of CLOCK_BOOTTIME, as one JSON line. No setup, no port, no protocol: what is left of the 0.5 s
 * for those is the target minus this.
 */
import { lineAt, worker, workerAt } from "./start.ts";
import { dlopen, FFIType, ptr } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
}).symbols;
const ffiAt = performance.now();
const ts = new BigInt64Array(2);
libc.clock_gettime(7, ptr(ts));
// performance.now() and CLOCK_BOOTTIME differ by a constant: one reading of both maps the rest.
const offset = Number(ts[0]!) * 1000 + Number(ts[1]!) / 1e6 - performance.now();
worker.onmessage = () => {
  const at = (t: number) => +(t + offset).toFixed(1);
  const messageAt = performance.now();
  console.log(
    JSON.stringify({ line: at(lineAt), worker: at(workerAt), ffi: at(ffiAt), message: at(messageAt) }),
  );
  process.exit(0);
};
