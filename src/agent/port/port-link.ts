/**
 * The guest's transport: the virtio port `agent`, opened once (read+write, non-blocking) for the
 * agent's whole life. Reading happens in a Worker (reader-worker.ts), which also writes children's
 * pipe output to the port itself (copy-loop.ts); everything else is written here with
 * non-blocking write(2), a whole frame at a time between the Worker's (port-lock.ts): what the
 * port does not take now stays in the output queue and is retried when the worker reports the
 * port writable (or free). Non-blocking matters: a blocking write while
 * the host is away would wait for the next host and hand it the tail of an old frame.
 *
 * A host disconnect (POLLHUP) ends the connection (its sessions are killed); when a host
 * connects again, a new connection starts and sends core.ready again (ours).
 */
import { log } from "../log.ts";
import type { Agent } from "../agent.ts";
import type { Connection } from "../connection.ts";
import type { Link } from "../link.ts";
import {
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  openFd,
  PORT_WRITE_MAX,
  wakePipe,
  writeChunked,
  writeFd,
} from "../../sys/fd-io.ts";
import { installOutputPoller, OutputPoller } from "../exec/output-poller.ts";
import { READ_CHUNK, READER_WAITING } from "./inbox.ts";
import { bootTimeNs } from "../../sys/clock.ts";
import { startReader } from "./reader-start.ts";
import { PortCopier } from "./copier.ts";
import { FIRST_ROUND, FIRST_ROUND_UP, mainBegin, mainRelease, PORT_FD, WAKE_FD } from "./port-lock.ts";
import { currentEpoch } from "./copy-table.ts";
import { DirectStdin, installDirectStdin } from "./direct-stdin.ts";
import { STREAM } from "./inbound-split.ts";
import { addDone } from "./stdin-table.ts";

type WorkerMessage =
  | { kind: "up"; epoch?: number; first?: boolean }
  | { kind: "down"; first?: boolean }
  | { kind: "writable" }
  | { kind: "data"; slot: number; length: number; regions?: number[] }
  | { kind: "activity" }
  | { kind: "outputs"; ready: number[] }
  | { kind: "copies"; ended: number[] }
  | { kind: "error"; message: string };

/** How long servePort waits for the reader's first round before it waits for its message. */
const FIRST_ROUND_WAIT_MS = 2000;

/**
 * The reader Worker and what it shares with this thread, the port not yet open. Its reports wait
 * in `held` until servePort takes them.
 */
export interface PortReader {
  readonly worker: Worker;
  readonly flags: Int32Array;
  readonly inbox: SharedArrayBuffer;
  readonly slotState: Int32Array;
  readonly outputs: OutputPoller;
  readonly copier: PortCopier;
  /** The stdin pipes the Worker writes itself (stdin-table.ts). */
  readonly stdin: Int32Array;
  readonly wake: () => void;
  readonly held: WorkerMessage[];
}

/** The port open and handed to its reader, which is polling it or about to. */
export interface OpenPort {
  readonly path: string;
  readonly reader: PortReader;
  readonly link: Link;
}

/**
 * The reader Worker (started with its shared buffers by agentd/early.ts in guest mode, or now),
 * given the wake pipe: it then waits for the port in the control words (openPort). Guest mode
 * does this before it waits for init's report.
 */
export function startPortReader(): PortReader {
  const { worker, shared } = startReader();
  const { control, inbox, slots } = shared;
  const flags = new Int32Array(control);
  const [wakeRead, wakeWrite] = wakePipe();
  Atomics.store(flags, WAKE_FD, wakeRead + 1);
  Atomics.notify(flags, WAKE_FD);
  const one = new Uint8Array([1]);
  const wake = () => writeFd(wakeWrite, one, "wake pipe");
  // The children's output pipes are polled by the same Worker (one VM, not two).
  const outputs = new OutputPoller(wake, shared.outputs);
  installOutputPoller(outputs);
  // Children's output pipes are copied to the port by the same Worker (copy-loop.ts).
  const copier = new PortCopier(wake, shared.copies);
  // Children's stdin pipes are written by the same Worker while their writers hold nothing.
  installDirectStdin(new DirectStdin(shared.stdin, wake));
  const held: WorkerMessage[] = [];
  worker.onmessage = (event: MessageEvent<WorkerMessage>) => void held.push(event.data);
  worker.onerror = (e) => log("error", `port reader failed: ${e.message}`);
  const stdin = new Int32Array(shared.stdin);
  return { worker, flags, inbox, slotState: new Int32Array(slots), outputs, copier, stdin, wake, held };
}

/**
 * Opens the port at `path` and hands it to `reader`, which starts polling it. Guest mode does
 * this as soon as init has reported the port, before the setup steps, so that the reader takes
 * the port over while this thread sets the guest up. No host is answered before servePort
 * (core.ready comes from it, after setup).
 */
export function openPort(reader: PortReader, path: string): OpenPort {
  const fd = openFd(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  const { flags, wake } = reader;
  Atomics.store(flags, PORT_FD, fd + 1);
  Atomics.notify(flags, PORT_FD);
  const link: Link = {
    copier: reader.copier,
    begin: () => mainBegin(flags),
    release() {
      if (mainRelease(flags)) wake();
    },
    write(bytes) {
      let at = 0;
      while (at < bytes.length) {
        // One writev(2) per frame where write(2) took 32 KiB a call (fd-io.ts).
        const n = writeChunked(fd, bytes, at, PORT_WRITE_MAX, path);
        if (n <= 0) break;
        at += n;
      }
      if (at < bytes.length) {
        Atomics.store(flags, 1, 1);
        wake();
      }
      return at;
    },
    pause() {
      Atomics.store(flags, 0, 1);
    },
    resume() {
      Atomics.store(flags, 0, 0);
      wake();
    },
    close() {
      // The port stays open for the next host; a connection ends when the host goes away.
    },
  };
  return { path, reader, link };
}

/**
 * A slot the Worker split (inbound-split.ts): bytes of whole frames go to the decoder, the rest of
 * a frame the Worker began writing to a child's pipe goes to that session's stdin; in order.
 * Returns the bytes handled (all of them, with or without a connection).
 */
function receiveRegions(conn: Connection | null, inbox: Uint8Array, base: number, regions: number[]): number {
  let handled = 0;
  for (let i = 0; i < regions.length; i += 3) {
    const start = base + regions[i]!;
    const length = regions[i + 1]!;
    const id = regions[i + 2]!;
    const bytes = inbox.subarray(start, start + length);
    if (id === STREAM) conn?.receive(bytes, true);
    else conn?.stdinRest(id, bytes);
    handled += length;
  }
  return handled;
}

/**
 * Serves the host on `port` (openPort's): what the reader reported so far first, in order, then
 * the rest as it comes. `onReady` runs once, right after the reader's first report has been
 * handled (core.ready is on its way to a host that is there): work that can wait until then
 * (the heartbeat) does not hold up boot-to-ready. It gets when core.ready's write returned, on
 * the kernel's clock (ns), or null when no host was there then.
 */
export function servePort(
  port: OpenPort,
  agent: Agent,
  onReady: (writtenNs: bigint | null) => void = () => {},
): void {
  const { path, link, reader } = port;
  const { copier, outputs, inbox, slotState, flags, worker, held, stdin } = reader;
  const inboxBytes = new Uint8Array(inbox);
  let conn: Connection | null = null;
  let polling = false;
  let written: bigint | null = null;
  const handle = (m: WorkerMessage) => {
    if (!polling && (m.kind === "up" || m.kind === "down")) {
      // The reader is polling the port: from now on a host is answered. core.ready says when.
      polling = true;
      agent.config.ready.ready_time_ns = bootTimeNs();
      // Logged after core.ready is on its way (and after onReady's own work has started): a
      // console line costs 1-4 ms at boot under TCG.
      queueMicrotask(() => {
        onReady(written);
        log("info", `serving on ${path}`);
      });
    }
    switch (m.kind) {
      case "up":
        Atomics.store(flags, 0, 0);
        copier.epoch = m.epoch ?? 0;
        conn = agent.connect(link);
        // The first core.ready's write had returned then (a frame this small the port takes at once).
        written ??= conn.readySentNs;
        return;
      case "down":
        if (conn) agent.disconnect(conn);
        conn = null;
        Atomics.store(flags, 0, 0);
        return;
      case "data": {
        // Lent to the decoder for this call only: it copies what it keeps (most bytes of a large
        // frame go straight into the frame's buffer, with no copy of the whole slot first).
        // Then the slot is free for the reader again (when this was its last message).
        const base = m.slot * READ_CHUNK;
        let handled = m.length;
        try {
          if (!m.regions) conn?.receive(new Uint8Array(inbox, base, m.length), true);
          else handled = receiveRegions(conn, inboxBytes, base, m.regions);
        } finally {
          // After the handlers, which set what the Worker reads next (stdin-table.ts).
          addDone(stdin, handled);
          if (Atomics.sub(slotState, m.slot, 1) === 1 && Atomics.load(slotState, READER_WAITING) !== 0)
            Atomics.notify(slotState, m.slot);
        }
        return;
      }
      case "activity":
        conn?.activity();
        return;
      case "writable":
        conn?.drained();
        return;
      case "outputs":
        outputs.onReady(m.ready);
        return;
      case "copies":
        copier.onEnded(m.ended);
        return;
      case "error":
        log("warn", `port ${path}: ${m.message}`);
    }
  };
  // The reader's first round, taken from the control words as soon as it is done: its message
  // comes only after the event loop's next turn, which at boot first runs Bun's tick queue (9-12
  // ms), and core.ready waited for it. Then that message is skipped. Without the first round in
  // time (a reader that cannot start), its message still serves.
  let tookFirst = false;
  if (Atomics.wait(flags, FIRST_ROUND, 0, FIRST_ROUND_WAIT_MS) !== "timed-out") {
    tookFirst = true;
    if (Atomics.load(flags, FIRST_ROUND) === FIRST_ROUND_UP)
      handle({ kind: "up", epoch: currentEpoch(new Int32Array(copier.table)) });
    else handle({ kind: "down" });
  } else log("warn", `port ${path}: no first round from the reader in ${FIRST_ROUND_WAIT_MS} ms`);
  const take = (m: WorkerMessage) => {
    if (!(tookFirst && (m.kind === "up" || m.kind === "down") && m.first)) handle(m);
  };
  for (let i = 0; i < held.length; i++) take(held[i]!);
  held.length = 0;
  worker.onmessage = (event: MessageEvent<WorkerMessage>) => take(event.data);
}
