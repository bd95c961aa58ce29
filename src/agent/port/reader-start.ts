/**
 * Starts the port reader's Worker (reader-worker.ts) once, and gives it its shared memory at once.
 * A Worker is a JavaScriptCore VM of its own, and under TCG it takes ~0.7 s to start cold, so
 * guest mode starts it as agentd's first act (agentd/early.ts): it boots on the other vCPU while
 * agentd loads its modules and sets the guest up, instead of after, when the host is already
 * waiting for core.ready. Its shared buffers go with it in the same breath: a message reaches
 * the Worker 10-15 ms after it is posted at boot, and posted from setup (after agentd's modules
 * and libc) it arrived after the port had been opened for it, which then waited for it. The two
 * descriptors the main thread makes later (the port, the wake pipe) it finds in the control
 * words. Imports only modules of constants and shared tables, so that nothing heavier is
 * evaluated before the Worker is on its way.
 */
import { newOutputTable } from "../exec/output-table.ts";
import { newCopyTable } from "./copy-table.ts";
import { newStdinTable } from "./stdin-table.ts";
import { INBOX_SLOTS, READ_CHUNK, SLOT_STATE_WORDS } from "./inbox.ts";
import { CONTROL_WORDS, FD_LATER } from "./port-lock.ts";
import type { ReaderInit } from "./reader-worker.ts";

/** What the reader Worker and the main thread share (ReaderInit less the descriptors). */
export interface ReaderShared {
  readonly control: SharedArrayBuffer;
  readonly inbox: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  readonly outputs: SharedArrayBuffer;
  readonly copies: SharedArrayBuffer;
  readonly stdin: SharedArrayBuffer;
}

export interface StartedReader {
  readonly worker: Worker;
  readonly shared: ReaderShared;
  /** performance.now() when the Worker's constructor had returned (the boot line's mark). */
  readonly constructedMs: number;
}

let reader: StartedReader | null = null;

/**
 * The reader Worker, started now if it was not yet, with its init posted: it then waits for the
 * wake pipe and the port in the control words (port-link.ts's startPortReader and openPort).
 */
export function startReader(): StartedReader {
  if (reader) return reader;
  // Inside the compiled binary a worker is found by its path from the bundle root (the repository
  // root, the common folder of the entry points); a URL from import.meta.url points at the
  // build machine's disk instead.
  const worker = new Worker("./src/agent/port/reader-worker.ts");
  const constructedMs = performance.now();
  const shared: ReaderShared = {
    control: new SharedArrayBuffer(4 * CONTROL_WORDS),
    inbox: new SharedArrayBuffer(INBOX_SLOTS * READ_CHUNK),
    slots: new SharedArrayBuffer(4 * SLOT_STATE_WORDS),
    outputs: newOutputTable(),
    copies: newCopyTable(),
    stdin: newStdinTable(),
  };
  // Field by field: an object spread runs a builtin that is JavaScript, compiled on first use.
  const init: ReaderInit = {
    fd: FD_LATER,
    wakeFd: FD_LATER,
    control: shared.control,
    inbox: shared.inbox,
    slots: shared.slots,
    outputs: shared.outputs,
    copies: shared.copies,
    stdin: shared.stdin,
  };
  worker.postMessage(init);
  reader = { worker, shared, constructedMs };
  return reader;
}
