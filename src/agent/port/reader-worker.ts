/**
 * agentd's one polling thread, in a Worker because waiting must block somewhere and the event
 * loop must not. It polls the virtio port (when there is one), a wake pipe the main thread writes
 * to when it changes what should be polled, and the children's output pipes the main thread has
 * armed. One Worker for both jobs: each Worker is a JavaScriptCore VM of its own, and agentd's
 * memory budget is tight.
 *
 * The port (fd ≥ 0; host mode has none): reads up to READ_CHUNK at a time and posts
 *   { kind: "up" } / { kind: "down" }   the host connected / went away (POLLHUP or read 0); the
 *                                       first round's also goes into the control words, with
 *                                       `first` set on its message (port-link.ts's servePort)
 *   { kind: "data", slot, length,       bytes from the host, in a slot of the shared inbox: all
 *     regions? }                        of them for the decoder, or the regions inbound-split.ts
 *                                       left for the main thread (a slot may be posted twice)
 *   { kind: "activity" }                stdin the splitter wrote to pipes itself (none posted)
 *   { kind: "writable" }                the port can take more (asked for by the main thread)
 *   { kind: "error", message }          a read or poll failed (the loop goes on after a pause)
 * Control (SharedArrayBuffer of Int32): [0] paused (stop reading), [1] want-writable; the port
 * lock's words (port-lock.ts), the first round (FIRST_ROUND), the port itself (PORT_FD) and the
 * wake pipe (WAKE_FD).
 * Data is read into slots of a shared inbox (INBOX_SLOTS × READ_CHUNK); the main thread lends the
 * slot to its frame decoder and frees it (a slot's word counts its messages not yet handled).
 * Each read first goes through the splitter (inbound-split.ts): stdin frames of sessions whose
 * writers hold nothing are written into the child's pipe from here (stdin-table.ts), with no hop
 * to the main thread. Reading into a fresh buffer per read and transferring
 * it made garbage that neither thread's collector saw as its own, and agentd's RSS grew past 150
 * MiB under a steady upload.
 *
 * Children's pipes (exec/output-poller.ts owns the table): posts { kind: "outputs", ready: [slot] }
 * for armed slots that are readable (output) or writable (stdin), at their end, or failed,
 * disarming each (one report per arming; the main thread does the reading and writing).
 *
 * Output pipes handed over for copying (port/copy-table.ts): reads them and writes their frames to
 * the port itself (copy-loop.ts), taking turns with the main thread at frame boundaries
 * (port-lock.ts); posts { kind: "copies", ended: [slot, code, ...] } when copies end, and
 * { kind: "writable" } when it lets go of the port the main thread waits for.
 *
 * This thread is the only one that waits on the port, for input and for room alike, in one
 * poll(2). This guest kernel can miss the wake-up of a thread waiting for room in the port while
 * another thread polls the same port for input: a writer blocked in write(2) beside a thread in
 * poll(2) for POLLIN stayed asleep for good, the host having taken every byte; with a 2 s timeout
 * on the writer's poll(2) instead, the port was found writable only when the timeout ran out in 5
 * of 43 transfers of 256 MiB. The same writer with no second thread missed none in 20, and
 * agentd's stdout none in 20 (its longest gap between two pieces 46 ms). Waiting for room on
 * another thread would bring that back (2026-12-01).
 */
import { ptr } from "bun:ffi";
import { PollSet, POLLHUP, POLLIN, POLLOUT, readFd, readFdAt, writeFdAt } from "../../sys/fd-io.ts";
import { collectArmed, MAX_WATCHED, takeReady, type Armed } from "../exec/output-table.ts";
import { CopyLoop } from "./copy-loop.ts";
import { MAX_COPIES, nextEpoch } from "./copy-table.ts";
import {
  FIRST_ROUND,
  FIRST_ROUND_DOWN,
  FIRST_ROUND_UP,
  FD_LATER,
  PORT_FD,
  WAKE_FD,
  workerMayOrWait,
} from "./port-lock.ts";

declare const self: Worker;

import { INBOX_SLOTS, READ_CHUNK, READER_WAITING } from "./inbox.ts";
import { closeFd, libc } from "../../sys/libc.ts";
import { InboundSplitter, STREAM } from "./inbound-split.ts";
import { directEntry, doneBytes, entryFd, failEntry, sweepStopped, waitDone } from "./stdin-table.ts";
const NONE: number[] = [];
/** While the host is away, look again this often. */
const HUP_RETRY_MS = 50;
/** Bound on the bytes dropped when a host leaves (the port's own buffers hold far less). */
const MAX_STALE_BYTES = 16 * 1024 * 1024;

export interface ReaderInit {
  /**
   * The port, -1 (host mode: output pipes only), or FD_LATER: the main thread puts it in the
   * control words once it has opened it, and the reader waits for it there.
   */
  fd: number;
  /** The wake pipe's read end, or FD_LATER (in the control words, before the port). */
  wakeFd: number;
  control: SharedArrayBuffer;
  /** INBOX_SLOTS × READ_CHUNK bytes of data. */
  inbox: SharedArrayBuffer;
  /** Int32 per slot: its messages the main thread has not handled yet (0: free); then READER_WAITING. */
  slots: SharedArrayBuffer;
  /** The output poller's table (output-table.ts). */
  outputs: SharedArrayBuffer;
  /** The copies' table (copy-table.ts); absent in host mode. */
  copies?: SharedArrayBuffer;
  /** The stdin pipes this thread may write (stdin-table.ts); absent in host mode. */
  stdin?: SharedArrayBuffer;
}

/** A descriptor from the control words (PORT_FD, WAKE_FD), once the main thread has put it there. */
function fdWhenThere(flags: Int32Array, word: number): number {
  for (;;) {
    const v = Atomics.load(flags, word);
    if (v !== 0) return v - 1;
    Atomics.wait(flags, word, 0);
  }
}

function run({
  fd: givenFd,
  wakeFd: givenWake,
  control,
  inbox,
  slots,
  outputs,
  copies,
  stdin,
}: ReaderInit): void {
  const flags = new Int32Array(control);
  // The main thread puts the wake pipe there before it opens the port.
  const wakeFd = givenWake === FD_LATER ? fdWhenThere(flags, WAKE_FD) : givenWake;
  const fd = givenFd === FD_LATER ? fdWhenThere(flags, PORT_FD) : givenFd;
  const state = new Int32Array(slots);
  const table = new Int32Array(outputs);
  let slot = 0;
  // This loop never returns to the Worker's event loop, so its collector runs only when it
  // allocates: what it allocates per round piles up (a view and a BigInt per 4 KiB read made the
  // Worker's heap 10 MB). Reads go to raw addresses in the inbox and the poll set is reused.
  const inboxAt = ptr(new Uint8Array(inbox));
  const set = new PollSet(2 + MAX_WATCHED + MAX_COPIES);
  const armed: Armed[] = [];
  const armedRevents = (i: number) => set.revents(2 + i);
  const wakeBuf = new Uint8Array(64);
  // Not an inbox slot: the main thread may still be reading those.
  const scratch = new Uint8Array(64 * 1024);
  let connected: boolean | null = null;
  const copyTable = copies ? new Int32Array(copies) : null;
  const copy =
    fd >= 0 && copyTable
      ? new CopyLoop(fd, copyTable, flags, {
          ended: (list) => self.postMessage({ kind: "copies", ended: list }),
          portFree: () => self.postMessage({ kind: "writable" }),
        })
      : null;
  /** Poll-set index of copy entry i, or -1 when it is not polled this round. */
  const copyIndex: number[] = [];
  const inboxBytes = new Uint8Array(inbox);
  const stdinTable = stdin ? new Int32Array(stdin) : null;
  const regions: number[] = [];
  /** Posts `regions` of the current slot to the main thread (a slot may go in more than one). */
  const postSlot = (length: number, list: number[] | undefined) => {
    Atomics.add(state, slot, 1);
    self.postMessage({ kind: "data", slot, length, regions: list });
  };
  let lastPost = 0;
  /** After a wait for the main thread ran out: no more waits until then (see direct below). */
  let noWaitUntil = 0;
  const splitter = new InboundSplitter({
    direct(id, pending) {
      if (!stdinTable || directEntry(stdinTable, id) < 0) return -1;
      if (doneBytes(stdinTable) !== splitter.forwarded) {
        // The main thread has not handled all it was given: this frame may follow one of the
        // session's still on its way there. Give it this read's part now and wait a little for
        // it (at an upload's first frames, or after a slow child let the main thread hold some).
        const now = performance.now();
        if (now < noWaitUntil) return -1;
        if (pending.length > 0) {
          postSlot(slotLength, pending.slice());
          lastPost = now;
          pending.length = 0;
        }
        if (!waitDone(stdinTable, splitter.forwarded, CATCH_UP_MS)) {
          noWaitUntil = performance.now() + NO_WAIT_MS;
          return -1;
        }
      }
      // Read again: the main thread may have handed the session's writer a chunk meanwhile.
      return directEntry(stdinTable, id);
    },
    write(entry, address, length) {
      const pipe = entryFd(stdinTable!, entry);
      if (pipe < 0) return 0;
      try {
        const n = writeFdAt(pipe, address, length, "stdin pipe");
        return n > 0 ? n : 0;
      } catch {
        // EPIPE or worse: the main thread's writer meets it on the rest and reports it.
        failEntry(stdinTable!, entry);
        return 0;
      }
    },
  });
  /** Bytes read into the current slot (for a post from inside the split). */
  let slotLength = 0;
  const setConnected = (up: boolean) => {
    if (connected === up) return;
    const first = connected === null;
    connected = up;
    // A frame the host that left was sending ends with it; the next host's bytes start anew.
    if (!up) splitter.reset();
    // A new host gets a new epoch before anything is copied to it (copy-table.ts).
    const epoch = up && copyTable ? nextEpoch(copyTable) : undefined;
    if (first) {
      // The main thread may be blocked waiting for this (port-link.ts's servePort): it goes on at
      // once, where the message below reaches it only after its event loop's next turn.
      Atomics.store(flags, FIRST_ROUND, up ? FIRST_ROUND_UP : FIRST_ROUND_DOWN);
      Atomics.notify(flags, FIRST_ROUND);
    }
    self.postMessage(up ? { kind: "up", epoch, first } : { kind: "down", first });
  };
  for (;;) {
    try {
      if (stdinTable) sweepStopped(stdinTable, closeFd);
      const paused = Atomics.load(flags, 0) === 1;
      const wantWrite = Atomics.load(flags, 1) === 1;
      const copyCount = copy ? copy.collect() : 0;
      // Pipes are polled for copying only when a frame may start now: the port is not full and
      // not the main thread's. Else the main thread's release wakes this loop.
      const copying =
        copy !== null && copyCount > 0 && connected === true && !copy.pending && workerMayOrWait(flags);
      const events = (paused ? 0 : POLLIN) | (wantWrite || copy?.pending ? POLLOUT : 0);
      const count = collectArmed(table, armed);
      set.clear();
      // poll(2) ignores a negative descriptor: host mode's missing port.
      set.add(fd, events);
      set.add(wakeFd, POLLIN);
      for (let i = 0; i < count; i++) set.add(armed[i]!.fd, armed[i]!.events);
      for (let i = 0; i < copyCount; i++)
        copyIndex[i] = copying && !copy!.entries[i]!.cancel ? set.add(copy!.entries[i]!.fd, POLLIN) : -1;
      set.poll(pollTimeout(fd, connected));
      const port = set.revents(0);
      if (set.revents(1) & POLLIN) while (readFd(wakeFd, wakeBuf, "wake pipe") > 0) {}
      const ready = count === 0 ? NONE : takeReady(table, armed, armedRevents, count);
      if (ready.length > 0) self.postMessage({ kind: "outputs", ready });
      if (fd < 0) continue;
      if (port & POLLHUP) {
        // No host. virtio_console also says POLLIN then (a read would not block: it returns 0),
        // so POLLIN cannot mean "a host is back": taking it for one made agentd open and close
        // a connection, with a core.ready for nobody, every HUP_RETRY_MS while the host was away.
        if (connected !== false) {
          // What the host that left still had in the port is its, not the next host's; a frame
          // half written to it is lost with it.
          discardPending(fd, scratch);
          copy?.dropPending();
          setConnected(false);
        }
        // POLLHUP is level-triggered: wait before polling again instead of spinning.
        Bun.sleepSync(HUP_RETRY_MS);
        continue;
      }
      setConnected(true);
      if (port & POLLOUT && copy?.pending) copy.writePending();
      if (port & POLLOUT && wantWrite) {
        Atomics.store(flags, 1, 0);
        self.postMessage({ kind: "writable" });
      }
      if (port & POLLIN && !paused) {
        // Wait for the main thread to free the slot (it copies quickly; this bounds memory).
        for (let busy = Atomics.load(state, slot); busy !== 0; busy = Atomics.load(state, slot)) {
          Atomics.store(state, READER_WAITING, 1);
          Atomics.wait(state, slot, busy, 100);
          Atomics.store(state, READER_WAITING, 0);
          // A session's end must reach its child soon even while the main thread is slow.
          if (stdinTable) sweepStopped(stdinTable, closeFd);
        }
        const at = inboxAt + slot * READ_CHUNK;
        // The port hands over one 4 KiB virtio buffer per read(2): keep reading until it has
        // nothing more (EAGAIN) or the slot is full, so the main thread gets one message per
        // burst instead of one per page (65536 messages per 256 MiB upload before).
        let filled = 0;
        let n = 0;
        while (filled < READ_CHUNK && (n = readFdAt(fd, at + filled, READ_CHUNK - filled, "agent port")) > 0)
          filled += n;
        if (filled > 0) {
          slotLength = filled;
          splitter.split(inboxBytes.subarray(slot * READ_CHUNK, slot * READ_CHUNK + filled), at, regions);
          const now = performance.now();
          if (regions.length > 0) {
            // The whole slot for the decoder: the message as it was before (no regions).
            const whole =
              regions.length === 3 && regions[0] === 0 && regions[1] === filled && regions[2] === STREAM;
            postSlot(filled, whole ? undefined : regions.slice());
            lastPost = now;
          } else if (now - lastPost > ACTIVITY_MS) {
            // All of it written to pipes: the heartbeat's last_activity still hears of it.
            self.postMessage({ kind: "activity" });
            lastPost = now;
          }
          if (Atomics.load(state, slot) !== 0) slot = (slot + 1) % INBOX_SLOTS;
        } else if (n === 0) {
          setConnected(false);
          Bun.sleepSync(HUP_RETRY_MS);
        }
      }
      // A few frames per readable pipe per round: sessions take turns.
      for (let i = 0; i < copyCount && copying; i++)
        if (copyIndex[i]! >= 0 && set.revents(copyIndex[i]!) !== 0) copy!.copyFrom(i);
    } catch (e) {
      self.postMessage({ kind: "error", message: e instanceof Error ? e.message : String(e) });
      Bun.sleepSync(100);
    }
  }
}

/**
 * poll(2)'s timeout for this round. The first round with a port only samples it: a host that
 * connected before agentd opened it (a launcher waiting for the boot) raises no event, and
 * waiting for one would leave it without core.ready until it sent something or gave up and
 * reconnected. Host mode has no port, so it never leaves that first round: it must wait for its
 * pipes and wake pipe alone (it polled with 0, a Worker spinning at 100% of a core for as long as
 * agentd, or a test process that used the poller, ran).
 */
function pollTimeout(fd: number, connected: boolean | null): number {
  if (fd < 0) return -1;
  return connected === null ? 0 : connected === false ? HUP_RETRY_MS : -1;
}

/** A frame start waits this long at most for the main thread to catch up (direct above). */
const CATCH_UP_MS = 5;
/** After such a wait ran out, frames go to the main thread for this long without waiting. */
const NO_WAIT_MS = 100;
/** While stdin is all written here, the main thread hears of the host's activity this often. */
const ACTIVITY_MS = 250;

/** Reads and drops what the port holds, up to MAX_STALE_BYTES (a host that left sends no more). */
function discardPending(fd: number, scratch: Uint8Array): void {
  let dropped = 0;
  let n = 0;
  while (dropped < MAX_STALE_BYTES && (n = readFd(fd, scratch, "agent port")) > 0) dropped += n;
}

/** The one message: the init (port-link.ts's startPortReader, or host mode's output poller). */
// libc opened at once, while the main thread still evaluates agentd's modules: bun:ffi compiles
// each thread's calls with TinyCC, and the main thread, which opens libc after its modules, then
// finds the compiler's code already translated by TCG (six boots each: agentd's main 19-33 ms
// after its Worker was constructed against 37-56).
libc();

self.onmessage = (event: MessageEvent<ReaderInit>) => run(event.data);
