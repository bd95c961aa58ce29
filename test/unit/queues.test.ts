/** The bounded output queue and the inbound budget. */
import { describe, expect, test } from "bun:test";
import { InboundBudget } from "../../src/agent/inbound-budget.ts";
import { OutputQueue } from "../../src/agent/output-queue.ts";

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
