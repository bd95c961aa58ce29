/**
 * The port's reader, in a Worker because reading the port must block somewhere and the event
 * loop must not. It polls the port (and a wake pipe the main thread writes to when it changes the
 * control flags), reads up to READ_CHUNK at a time, and posts:
 *   { kind: "up" } / { kind: "down" }   the host connected / went away (POLLHUP or read 0)
 *   { kind: "data", chunk }             bytes from the host (the ArrayBuffer is transferred)
 *   { kind: "writable" }                the port can take more (asked for by the main thread)
 *   { kind: "error", message }          a read or poll failed (the loop goes on after a pause)
 * Control (SharedArrayBuffer of Int32): [0] paused (stop reading), [1] want-writable.
 *
 * Data is read into slots of a shared inbox (INBOX_SLOTS × READ_CHUNK) and announced with
 * { kind: "data", slot, length }; the main thread copies it out and frees the slot. Reading into a
 * fresh buffer per read and transferring it made garbage that neither thread's collector saw as
 * its own, and agentd's RSS grew past 150 MiB under a steady upload.
 */
import { pollFds, POLLHUP, POLLIN, POLLOUT, readFd } from "../../sys/fd-io.ts";

declare const self: Worker;

import { INBOX_SLOTS, READ_CHUNK } from "./inbox.ts";
/** While the host is away, look again this often. */
const HUP_RETRY_MS = 50;

interface Init {
  fd: number;
  wakeFd: number;
  control: SharedArrayBuffer;
  /** INBOX_SLOTS × READ_CHUNK bytes of data. */
  inbox: SharedArrayBuffer;
  /** Int32 per slot: 0 free, 1 holding data for the main thread. */
  slots: SharedArrayBuffer;
}

function run({ fd, wakeFd, control, inbox, slots }: Init): void {
  const flags = new Int32Array(control);
  const state = new Int32Array(slots);
  let slot = 0;
  const wakeBuf = new Uint8Array(64);
  let connected: boolean | null = null;
  const setConnected = (up: boolean) => {
    if (connected !== up) {
      connected = up;
      self.postMessage({ kind: up ? "up" : "down" });
    }
  };
  for (;;) {
    try {
      const paused = Atomics.load(flags, 0) === 1;
      const wantWrite = Atomics.load(flags, 1) === 1;
      const events = (paused ? 0 : POLLIN) | (wantWrite ? POLLOUT : 0);
      const [port, wake] = pollFds(
        [
          { fd, events },
          { fd: wakeFd, events: POLLIN },
        ],
        connected === false ? HUP_RETRY_MS : -1,
      );
      if (wake! & POLLIN) while (readFd(wakeFd, wakeBuf, "wake pipe") > 0) {}
      if (port! & POLLHUP && !(port! & POLLIN)) {
        setConnected(false);
        // POLLHUP is level-triggered: wait before polling again instead of spinning.
        Bun.sleepSync(HUP_RETRY_MS);
        continue;
      }
      setConnected(true);
      if (port! & POLLOUT && wantWrite) {
        Atomics.store(flags, 1, 0);
        self.postMessage({ kind: "writable" });
      }
      if (port! & POLLIN && !paused) {
        // Wait for the main thread to free the slot (it copies quickly; this bounds memory).
        while (Atomics.load(state, slot) !== 0) Atomics.wait(state, slot, 1, 100);
        const buf = new Uint8Array(inbox, slot * READ_CHUNK, READ_CHUNK);
        // The port hands over one 4 KiB virtio buffer per read(2): keep reading until it has
        // nothing more (EAGAIN) or the slot is full, so the main thread gets one message per
        // burst instead of one per page (65536 messages per 256 MiB upload before).
        let filled = 0;
        let n = 0;
        while (filled < READ_CHUNK && (n = readFd(fd, buf.subarray(filled), "agent port")) > 0) filled += n;
        if (filled > 0) {
          Atomics.store(state, slot, 1);
          self.postMessage({ kind: "data", slot, length: filled });
          slot = (slot + 1) % INBOX_SLOTS;
        } else if (n === 0) {
          setConnected(false);
          Bun.sleepSync(HUP_RETRY_MS);
        }
      }
    } catch (e) {
      self.postMessage({ kind: "error", message: e instanceof Error ? e.message : String(e) });
      Bun.sleepSync(100);
    }
  }
}

self.onmessage = (event: MessageEvent<Init>) => run(event.data);
