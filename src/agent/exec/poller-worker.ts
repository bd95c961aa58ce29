/**
 * Readiness for the children's output pipes, in a Worker because waiting must block somewhere
 * and the event loop must not (the port's reader does the same for the port). The main thread
 * owns the descriptors and does all reading; this thread only polls.
 *
 * Shared table (Int32): [0] the number of slots in use (a high-water mark), then per slot
 * [fd, armed]. The main thread arms a slot (armed = 1) and writes to the wake pipe; this thread
 * polls the armed slots, and when one is readable (data, end of file or error) it disarms it
 * (compare-and-swap 1 → 0, so a slot released meanwhile is not reported) and posts
 * { ready: [slot, ...] }. One report per arming: the main thread reads until EAGAIN, then arms
 * again.
 */
import { pollFds, POLLIN, readFd } from "../../sys/fd-io.ts";

declare const self: Worker;

interface Init {
  table: SharedArrayBuffer;
  wakeFd: number;
}

function run({ table, wakeFd }: Init): void {
  const t = new Int32Array(table);
  const wakeBuf = new Uint8Array(64);
  for (;;) {
    try {
      const used = Atomics.load(t, 0);
      const fds = [{ fd: wakeFd, events: POLLIN }];
      const slots: number[] = [];
      for (let s = 0; s < used; s++) {
        if (Atomics.load(t, 2 + s * 2) !== 1) continue;
        fds.push({ fd: Atomics.load(t, 1 + s * 2), events: POLLIN });
        slots.push(s);
      }
      const revents = pollFds(fds, -1);
      if (revents[0]! & POLLIN) while (readFd(wakeFd, wakeBuf, "poller wake pipe") > 0) {}
      const ready: number[] = [];
      // Any event counts: POLLIN, POLLHUP (end of file), POLLERR or POLLNVAL; the read tells which.
      slots.forEach((s, i) => {
        if (revents[i + 1] && Atomics.compareExchange(t, 2 + s * 2, 1, 0) === 1) ready.push(s);
      });
      if (ready.length > 0) self.postMessage({ ready });
    } catch (e) {
      self.postMessage({ error: e instanceof Error ? e.message : String(e) });
      Bun.sleepSync(100);
    }
  }
}

self.onmessage = (event: MessageEvent<Init>) => run(event.data);
