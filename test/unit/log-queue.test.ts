/** The log's bounded queue, against a sink whose room the test controls. */
import { expect, test } from "bun:test";
import { LogQueue, type Sink } from "../../src/agent/log-queue.ts";
import type { SinkResult } from "../../src/sys/stderr.ts";

/** Takes up to `room` bytes, then "again"; `closed` makes every write fail for good. */
class FakeSink implements Sink {
  out = "";
  room = Infinity;
  closed = false;
  writes = 0;
  write(bytes: Uint8Array): SinkResult {
    this.writes++;
    if (this.closed) return "closed";
    const n = Math.min(bytes.length, this.room);
    if (n === 0) return "again";
    this.room -= n;
    this.out += new TextDecoder().decode(bytes.subarray(0, n));
    return n;
  }
  /** Room comes only from the test: waits the whole time when there is none. */
  waitWritable(ms: number): boolean {
    if (this.room > 0) return true;
    Bun.sleepSync(ms);
    return false;
  }
}

const line = (s: string) => new TextEncoder().encode(s + "\n");

test("lines go straight out while the sink takes them; nothing waits", () => {
  const sink = new FakeSink();
  const q = new LogQueue(sink, 100, 1);
  q.push(line("one"));
  q.push(line("two"));
  expect(sink.out).toBe("one\ntwo\n");
  expect(q.queued).toBe(0);
});

test("a line the sink takes half of keeps its rest at the head, before any later line", () => {
  const sink = new FakeSink();
  sink.room = 3;
  const q = new LogQueue(sink, 100, 1);
  q.push(line("hello"));
  q.push(line("world"));
  expect(sink.out).toBe("hel");
  expect(q.queued).toBe(9);
  sink.room = Infinity;
  q.flush(0);
  expect(sink.out).toBe("hello\nworld\n");
});

test("past the queue's limit whole lines are dropped and counted; the count follows the lines before it", () => {
  const sink = new FakeSink();
  sink.room = 0;
  const q = new LogQueue(sink, 20, 1);
  for (let i = 0; i < 10; i++) q.push(line(`line ${i}`)); // 7 bytes each: 2 fit in 20
  expect(q.queued).toBe(14);
  expect(q.dropped).toBe(8);
  q.push(line("x")); // fits, still refused: it goes after the count
  sink.room = Infinity;
  q.flush(0);
  q.push(line("after"));
  expect(sink.out).toBe(
    "line 0\nline 1\nagentd: warn: 8 log line(s) dropped: stderr did not take them\nx\nafter\n",
  );
  expect(q.dropped).toBe(0);
});

test("a refused queue tries again by itself once the sink has room", async () => {
  const sink = new FakeSink();
  sink.room = 0;
  const q = new LogQueue(sink, 100, 5);
  q.push(line("later"));
  expect(sink.out).toBe("");
  sink.room = Infinity;
  await Bun.sleep(50);
  expect(sink.out).toBe("later\n");
});

test("a closed sink (reader gone) ends the queue: later lines are not tried", () => {
  const sink = new FakeSink();
  sink.closed = true;
  const q = new LogQueue(sink, 100, 1);
  q.push(line("lost"));
  const writes = sink.writes;
  q.push(line("also lost"));
  expect(sink.writes).toBe(writes);
  expect(q.queued).toBe(0);
});

test("flush gives up at its deadline when the sink never takes more", () => {
  const sink = new FakeSink();
  sink.room = 0;
  const q = new LogQueue(sink, 100, 1);
  q.push(line("stuck"));
  const t = performance.now();
  q.flush(30);
  const took = performance.now() - t;
  expect(took).toBeGreaterThanOrEqual(25);
  expect(took).toBeLessThan(1000);
  expect(q.queued).toBe(6);
});
