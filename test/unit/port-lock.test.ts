/**
 * The port lock (src/agent/port/port-lock.ts) between the main thread and the port thread, and
 * the output queue taking its turns at a sink shared that way: frames whole, the main thread
 * first, no release missed by either side. And the table of copies the two threads share
 * (copy-table.ts, copier.ts): connection epochs, the wrapping byte count, cancels by the owner.
 */
import { describe, expect, test } from "bun:test";
import {
  CONTROL_WORDS,
  FREE,
  MAIN,
  MAIN_WAITING,
  mainBegin,
  mainRelease,
  OWNER,
  WORKER,
  WORKER_WAITING,
  workerBegin,
  workerMay,
  workerMayOrWait,
  workerRelease,
} from "../../src/agent/port/port-lock.ts";
import { OutputQueue } from "../../src/agent/output-queue.ts";
import {
  addCopied,
  bytesCopied,
  collectCopies,
  END_CANCELLED,
  END_EOF,
  END_ERROR,
  errnoEnd,
  MAX_COPIES,
  newCopyTable,
  nextEpoch,
  setCopiesUsed,
  startCopy,
  type CopyEntry,
} from "../../src/agent/port/copy-table.ts";
import { PortCopier } from "../../src/agent/port/copier.ts";

const control = () => new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));

describe("port lock", () => {
  test("a free port goes to whoever asks; the other waits and says so", () => {
    const c = control();
    expect(mainBegin(c)).toBe(true);
    expect(Atomics.load(c, OWNER)).toBe(MAIN);
    expect(workerBegin(c)).toBe(false);
    expect(Atomics.load(c, WORKER_WAITING)).toBe(1);
    // The main thread's release tells it to wake the port thread.
    expect(mainRelease(c)).toBe(true);
    expect(workerBegin(c)).toBe(true);
    expect(Atomics.load(c, WORKER_WAITING)).toBe(0);
    expect(mainBegin(c)).toBe(false);
    expect(Atomics.load(c, MAIN_WAITING)).toBe(1);
    // The port thread's release tells it to tell the main thread.
    expect(workerRelease(c)).toBe(true);
    expect(mainBegin(c)).toBe(true);
    expect(Atomics.load(c, MAIN_WAITING)).toBe(0);
    expect(mainRelease(c)).toBe(false);
    expect(Atomics.load(c, OWNER)).toBe(FREE);
  });

  test("the main thread goes first: while it waits, the port thread starts no frame on a free port", () => {
    const c = control();
    expect(workerBegin(c)).toBe(true);
    expect(mainBegin(c)).toBe(false);
    expect(workerRelease(c)).toBe(true);
    expect(Atomics.load(c, OWNER)).toBe(FREE);
    expect(workerMay(c)).toBe(false);
    expect(workerBegin(c)).toBe(false);
    expect(mainBegin(c)).toBe(true);
    expect(mainRelease(c)).toBe(true); // the port thread said it waits
    expect(workerMay(c)).toBe(true);
    expect(workerBegin(c)).toBe(true);
    expect(Atomics.load(c, OWNER)).toBe(WORKER);
  });

  test("a port thread about to sleep says it waits, so the main thread's release wakes it", () => {
    const c = control();
    expect(workerMayOrWait(c)).toBe(true);
    expect(Atomics.load(c, WORKER_WAITING)).toBe(0);
    expect(mainBegin(c)).toBe(true);
    expect(workerMayOrWait(c)).toBe(false);
    expect(Atomics.load(c, WORKER_WAITING)).toBe(1);
    expect(mainRelease(c)).toBe(true);
    expect(workerMayOrWait(c)).toBe(true);
  });

  test("a release by one side never takes the port from the other", () => {
    const c = control();
    expect(workerBegin(c)).toBe(true);
    mainRelease(c); // the queue closing while the port thread writes
    expect(Atomics.load(c, OWNER)).toBe(WORKER);
    workerRelease(c);
    expect(mainBegin(c)).toBe(true);
    workerRelease(c); // a host gone away while the main thread writes
    expect(Atomics.load(c, OWNER)).toBe(MAIN);
  });
});

describe("output queue at a shared sink", () => {
  /** A sink the test hands back and forth: `free` is whether the other side lets go. */
  const shared = () => {
    const out: number[] = [];
    const s = {
      free: true,
      held: false,
      releases: 0,
      out,
      sink: {
        write: (b: Uint8Array) => {
          if (!s.held) throw new Error("wrote without the port");
          out.push(...b);
          return b.length;
        },
        begin: () => (s.free ? (s.held = true) : false),
        release: () => {
          s.held = false;
          s.releases++;
        },
      },
    };
    return s;
  };

  test("a frame starts only with the port and releases it after its last byte; the rest waits for flush", () => {
    const s = shared();
    const q = new OutputQueue(s.sink, 100);
    s.free = false;
    q.push(Uint8Array.of(1, 2));
    q.pushData(Uint8Array.of(3), Uint8Array.of(4, 5), true, null);
    expect(s.out).toEqual([]);
    expect(q.bytes).toBe(5);
    s.free = true;
    q.flush();
    expect(s.out).toEqual([1, 2, 3, 4, 5]);
    expect(s.releases).toBe(2);
    expect(s.held).toBe(false);
  });

  test("whenWritten resolves once the frames queued before it are out, with no turn at the port of its own", async () => {
    const s = shared();
    const q = new OutputQueue(s.sink, 100);
    s.free = false;
    q.push(Uint8Array.of(9));
    let written = false;
    const w = q.whenWritten().then(() => (written = true));
    await Bun.sleep(1);
    expect(written).toBe(false);
    s.free = true;
    q.flush();
    await w;
    expect(s.out).toEqual([9]);
    expect(s.releases).toBe(1);
  });

  test("closing the queue gives the port back, also mid-frame", async () => {
    const s = shared();
    let take = 1;
    const sink = { ...s.sink, write: (b: Uint8Array) => Math.min(take--, b.length) };
    const q = new OutputQueue(sink, 100);
    q.push(Uint8Array.of(1, 2, 3));
    expect(s.held).toBe(true);
    let written = false;
    const w = q.whenWritten().then(() => (written = true));
    q.close();
    await w;
    expect(written).toBe(true);
    expect(s.held).toBe(false);
  });
});

describe("copy table", () => {
  test("a copy of an earlier connection reads as cancelled; one of the current connection does not", () => {
    const t = new Int32Array(newCopyTable());
    const epoch = nextEpoch(t);
    startCopy(t, 0, 10, 1, "core.exec.stdout", epoch - 1);
    startCopy(t, 1, 11, 2, "core.exec.stderr", epoch);
    setCopiesUsed(t, 2);
    const entries: CopyEntry[] = [];
    expect(collectCopies(t, entries)).toBe(2);
    expect(entries.map((e) => [e.fd, e.id, e.type, e.cancel])).toEqual([
      [10, 1, "core.exec.stdout", true],
      [11, 2, "core.exec.stderr", false],
    ]);
    // After the next host connects, both are of an earlier one.
    nextEpoch(t);
    collectCopies(t, entries);
    expect(entries.slice(0, 2).map((e) => e.cancel)).toEqual([true, true]);
  });

  test("the byte count wraps at 2^32 and the count owed is still exact", () => {
    const t = new Int32Array(newCopyTable());
    startCopy(t, 0, 10, 1, "core.exec.stdout", 0);
    addCopied(t, 0, 0x7fffffff);
    const before = bytesCopied(t, 0);
    const owedUntil = (before + 1000) | 0;
    addCopied(t, 0, 999);
    expect(((owedUntil - bytesCopied(t, 0)) | 0) > 0).toBe(true);
    addCopied(t, 0, 1);
    expect(((owedUntil - bytesCopied(t, 0)) | 0) > 0).toBe(false);
  });

  test("a copy's end code says eof, cancelled or error, and an error carries the read's errno when known", async () => {
    const copier = new PortCopier(() => {});
    const jobs = await Promise.all([1, 2, 3, 4].map((id) => copier.start(10 + id, id, "core.fs.data")));
    const t = new Int32Array(copier.table);
    const entries: CopyEntry[] = [];
    collectCopies(t, entries);
    expect(entries.slice(0, 4).map((e) => e.type)).toEqual(Array(4).fill("core.fs.data"));
    expect(errnoEnd(0)).toBe(END_ERROR);
    copier.onEnded([jobs[0]!.slot, END_EOF, jobs[1]!.slot, END_CANCELLED]);
    copier.onEnded([jobs[2]!.slot, errnoEnd(5), jobs[3]!.slot, errnoEnd(0)]);
    const ends = await Promise.all(jobs.map(async (j) => [await j.ended, j.errno]));
    expect(ends).toEqual([
      ["eof", 0],
      ["cancelled", 0],
      ["error", 5],
      ["error", 0],
    ]);
  });

  test("a reserved slot is there for start() without waiting; when all are taken or promised, reserve says no", async () => {
    const copier = new PortCopier(() => {});
    for (let i = 0; i < MAX_COPIES; i++) expect(copier.reserve()).toBe(true);
    expect(copier.reserve()).toBe(false);
    const job = await copier.start(10, 1, "core.exec.stdout", true);
    expect(copier.reserve()).toBe(false); // the start took its own promise, no more
    // An unreserved start waits until a promise is given back.
    let started = false;
    const waiting = copier.start(11, 2, "core.exec.stdout").then((j) => ((started = true), j));
    await Bun.sleep(5);
    expect(started).toBe(false);
    copier.unreserve();
    const second = await waiting;
    expect(second.slot).not.toBe(job.slot);
    // A copy that ends frees its slot for a new promise.
    copier.onEnded([job.slot, END_EOF]);
    expect(copier.reserve()).toBe(true);
  });

  test("cancelling a copy that ended does not touch the next copy in its slot", () => {
    const copier = new PortCopier(() => {});
    const t = new Int32Array(copier.table);
    return (async () => {
      const first = await copier.start(10, 1, "core.exec.stdout");
      copier.onEnded([first.slot, END_EOF]);
      expect(await first.ended).toBe("eof");
      const second = await copier.start(11, 2, "core.exec.stdout");
      expect(second.slot).toBe(first.slot);
      first.cancel();
      const entries: CopyEntry[] = [];
      collectCopies(t, entries);
      expect(entries[0]!.cancel).toBe(false);
      second.cancel();
      collectCopies(t, entries);
      expect(entries[0]!.cancel).toBe(true);
    })();
  });

  test("the port thread scans only up to the highest copy in use: a burst once does not stay in every round", async () => {
    const copier = new PortCopier(() => {});
    const t = new Int32Array(copier.table);
    const jobs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => copier.start(100 + i, i, "core.exec.stdout")),
    );
    expect(Atomics.load(t, 0)).toBe(100);
    // The lowest ones end: the top is still in use.
    copier.onEnded(jobs.slice(0, 50).flatMap((j) => [j.slot, END_EOF]));
    expect(Atomics.load(t, 0)).toBe(100);
    // A new copy takes the lowest free slot.
    const again = await copier.start(7, 7, "core.exec.stderr");
    expect(again.slot).toBe(0);
    copier.onEnded(jobs.slice(50).flatMap((j) => [j.slot, END_EOF]));
    expect(Atomics.load(t, 0)).toBe(1);
    const entries: CopyEntry[] = [];
    expect(collectCopies(t, entries)).toBe(1);
    expect(entries[0]!.fd).toBe(7);
  });
});
