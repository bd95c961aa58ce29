/** bench/skeleton/main.ts's port thread: opens libc as agentd's reader does, then reports. */
import { dlopen, FFIType } from "bun:ffi";

declare const self: Worker;
dlopen("libc.so.6", { poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
self.postMessage("up");
