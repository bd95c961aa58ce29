/** The bounded output queue and the inbound budget. */
import { describe, expect, test } from "bun:test";
import { InboundBudget } from "../../src/agent/inbound-budget.ts";
import { OutputQueue } from "../../src/agent/output-queue.ts";
import { BufferPool } from "../../src/agent/fs/buffer-pool.ts";

describe("output queue", () => {
  test("writes through while the sink takes everything", () => {
    const got: number[] = [];
    const q = new OutputQueue({ write: (b) => (got.push(b.length), b.length) }, 10);
    q.push(new Uint8Array(4));
    expect(q.bytes).toBe(0);
    expect(got).toEqual([4]);
  });

  test("keeps the unwritten rest of a frame and resumes it on flush", () => {
    let take = 3;
    const written: number[] = [];
    const sink = {
      write: (b: Uint8Array) => {
        const n = Math.min(take, b.length);
        written.push(...b.subarray(0, n));
        take -= n;
        return n;
      },
    };
    const q = new OutputQueue(sink, 100);
    q.push(Uint8Array.of(1, 2, 3, 4, 5));
    q.push(Uint8Array.of(6));
    expect(q.bytes).toBe(3);
    take = 100;
    q.flush();
    expect(written).toEqual([1, 2, 3, 4, 5, 6]);
    expect(q.bytes).toBe(0);
  });

  test("room() waits while at or above the high-water mark and resolves on drain", async () => {
    let open = false;
    const q = new OutputQueue({ write: (b) => (open ? b.length : 0) }, 8);
    expect(q.room()).toBeNull();
    q.push(new Uint8Array(8), true);
    const room = q.room();
    expect(room).not.toBeNull();
    let resolved = false;
    void room!.then(() => (resolved = true));
    await Bun.sleep(1);
    expect(resolved).toBe(false);
    open = true;
    q.flush();
    await Bun.sleep(1);
    expect(resolved).toBe(true);
  });

  test("urgent frames go ahead of queued bulk frames, but never split the frame being written", () => {
    let open = 2;
    const out: number[] = [];
    const q = new OutputQueue(
      {
        write: (b) => {
          const n = Math.min(open, b.length);
          out.push(...b.subarray(0, n));
          open -= n;
          return n;
        },
      },
      100,
    );
    q.push(Uint8Array.of(1, 1, 1), true);
    q.push(Uint8Array.of(2, 2), true);
    q.push(Uint8Array.of(9));
    open = 100;
    q.flush();
    expect(out).toEqual([1, 1, 1, 9, 2, 2]);
  });

  test("room() counts only the bulk lane", () => {
    const q = new OutputQueue({ write: () => 0 }, 4);
    q.push(new Uint8Array(10));
    expect(q.room()).toBeNull();
    q.push(new Uint8Array(4), true);
    expect(q.room()).not.toBeNull();
  });

  test("close releases waiters and drops queued bytes", async () => {
    const q = new OutputQueue({ write: () => 0 }, 1);
    q.push(new Uint8Array(5), true);
    const room = q.room()!;
    q.close();
    await room;
    expect(q.bytes).toBe(0);
    q.push(new Uint8Array(5));
    expect(q.bytes).toBe(0);
  });
});

describe("output queue: data frames and slices", () => {
  const recorder = () => {
    const out: number[] = [];
    let open = Infinity;
    return {
      out,
      set open(n: number) {
        open = n;
      },
      sink: {
        write: (b: Uint8Array) => {
          const n = Math.min(open, b.length);
          out.push(...b.subarray(0, n));
          open -= n;
          return n;
        },
      },
    };
  };

  test("a head + data frame is written as one frame; done fires once, after its last byte", () => {
    const r = recorder();
    r.open = 3;
    const q = new OutputQueue(r.sink, 100);
    let done = 0;
    q.pushData(Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5), true, () => done++);
    expect(r.out).toEqual([1, 2, 3]);
    expect(done).toBe(0);
    expect(q.bytes).toBe(2);
    r.open = 100;
    q.flush();
    expect(r.out).toEqual([1, 2, 3, 4, 5]);
    expect(done).toBe(1);
  });

  test("close hands back every queued data buffer, the one being written included", () => {
    const r = recorder();
    r.open = 1;
    const q = new OutputQueue(r.sink, 100);
    const done: string[] = [];
    q.pushData(Uint8Array.of(1), Uint8Array.of(2, 2), true, () => done.push("a"));
    q.pushData(Uint8Array.of(1), Uint8Array.of(3), true, () => done.push("b"));
    q.close();
    expect(done.sort()).toEqual(["a", "b"]);
    q.pushData(Uint8Array.of(1), Uint8Array.of(4), true, () => done.push("after close"));
    expect(done).toContain("after close");
  });

  test("a flush writes one slice of bulk, the rest follows in later turns; urgent is never held", async () => {
    const r = recorder();
    const q = new OutputQueue(r.sink, 1000, 4);
    q.pushData(Uint8Array.of(1, 1), Uint8Array.of(1, 1), true, null);
    q.push(Uint8Array.of(2, 2, 2, 2), true);
    q.push(Uint8Array.of(3, 3), true);
    expect(r.out).toEqual([1, 1, 1, 1]);
    q.push(Uint8Array.of(9));
    expect(r.out).toEqual([1, 1, 1, 1, 9]);
    await Bun.sleep(5);
    expect(r.out).toEqual([1, 1, 1, 1, 9, 2, 2, 2, 2, 3, 3]);
  });
});

describe("buffer pool", () => {
  test("lends at most max buffers, reuses given-back ones, keeps at most keep", async () => {
    const pool = new BufferPool(8, 2, 1);
    const a = await pool.take();
    const b = await pool.take();
    const got: Uint8Array[] = [];
    void pool.take().then((c) => got.push(c));
    await Bun.sleep(1);
    expect(got).toEqual([]);
    pool.give(a);
    await Bun.sleep(1);
    expect(got[0]).toBe(a);
    pool.give(b);
    pool.give(got[0]!);
    expect(pool.lent).toBe(0);
    const again = await pool.take();
    expect(again === a || again === b).toBe(true);
  });

  test("tryTake lends without waiting, returns null when all are lent, never ahead of a waiting take", async () => {
    const pool = new BufferPool(8, 2, 1);
    const a = pool.tryTake()!;
    const b = pool.tryTake()!;
    expect(a).not.toBe(b);
    expect(pool.tryTake()).toBeNull();
    const waited: Uint8Array[] = [];
    void pool.take().then((c) => waited.push(c));
    // The buffer given back belongs to the waiting take, even before its continuation runs.
    pool.give(a);
    expect(pool.tryTake()).toBeNull();
    await Bun.sleep(1);
    expect(waited).toEqual([a]);
    expect(waited[0]).toBe(a);
    expect(pool.lent).toBe(2);
    pool.give(b);
    expect(pool.tryTake()).toBe(b);
  });
});

describe("buffer pool under a steady stream", () => {
  test("reuses every buffer while any is lent (no new buffer per read); shrinks to keep when idle", async () => {
    const pool = new BufferPool(8, 4, 1);
    const anchor = await pool.take(); // one frame always waiting to be written
    const seen = new Set<Uint8Array>();
    for (let round = 0; round < 20; round++) {
      const batch = [await pool.take(), await pool.take(), await pool.take()];
      if (round > 0) for (const b of batch) expect(seen.has(b)).toBe(true);
      for (const b of batch) (seen.add(b), pool.give(b));
    }
    expect(seen.size).toBe(3);
    pool.give(anchor);
    seen.add(anchor);
    expect(pool.lent).toBe(0);
    // Idle: only `keep` stays; the next burst allocates the rest again.
    const burst = await Promise.all([pool.take(), pool.take()]);
    expect(burst.filter((b) => seen.has(b)).length).toBe(1);
  });
});

describe("inbound budget", () => {
  test("pauses at the high-water mark and resumes below the low-water mark", () => {
    const calls: string[] = [];
    const b = new InboundBudget(
      () => calls.push("pause"),
      () => calls.push("resume"),
      10,
      5,
    );
    b.take(9);
    expect(calls).toEqual([]);
    b.take(1);
    expect(calls).toEqual(["pause"]);
    b.take(5);
    b.release(9);
    expect(calls).toEqual(["pause"]);
    b.release(2);
    expect(calls).toEqual(["pause", "resume"]);
    expect(b.held).toBe(4);
  });
});
