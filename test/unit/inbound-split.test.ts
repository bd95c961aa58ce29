/**
 * The port thread's pass over the host's bytes (port/inbound-split.ts), against a model of the
 * two threads: the host's stream cut into reads at every kind of boundary, a pipe that takes all,
 * some or none of a write, and a main thread that handles each read's regions after the writes
 * (as the worker posts them). What each session's stdin receives, in order, must be exactly what
 * the host sent it; every other frame must reach the decoder whole and in order; nothing is
 * written through while the main thread has bytes not yet handled or the session's writer holds
 * some; and the split's count of handed-on bytes is the regions' sum.
 */
import { expect, test } from "bun:test";
import { STREAM, InboundSplitter } from "../../src/agent/port/inbound-split.ts";
import { encodeCbor } from "../../src/protocol/cbor-encode.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import type { Message } from "../../src/protocol/payloads.ts";

/** xorshift32: the same cuts and pipe answers for the same seed. */
function rng(seed: number) {
  let x = seed || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

const bytesOf = (n: number, seed: number) =>
  new Uint8Array(n).map((_, i) => (i * 131 + seed * 7 + (i >> 8)) & 0xff);
const stdinFrame = (id: number, data: Uint8Array) =>
  encodeFrame(id, { type: "core.exec.stdin", payload: { data } } as Message);

/** A stdin frame in a form data-prefix.ts does not take (a second payload key): decoded whole. */
function oddStdinFrame(id: number, data: Uint8Array): Uint8Array {
  const body = encodeCbor({ v: 1, t: "core.exec.stdin", p: encodeCbor({ data, x: 1 }) });
  const f = new Uint8Array(9 + body.length);
  new DataView(f.buffer).setUint32(0, 5 + body.length);
  new DataView(f.buffer).setUint32(4, id);
  f.set(body, 9);
  return f;
}

interface Sent {
  stream: Uint8Array;
  /** Per session, the stdin bytes sent, in order. */
  stdin: Map<number, number[]>;
  /** Every frame that is not stdin data, as its type and id, in order. */
  others: string[];
}

function hostStream(seed: number): Sent {
  const r = rng(seed);
  const frames: Uint8Array[] = [];
  const stdin = new Map<number, number[]>();
  const others: string[] = [];
  const addStdin = (id: number, data: Uint8Array, odd = false) => {
    frames.push(odd ? oddStdinFrame(id, data) : stdinFrame(id, data));
    const list = stdin.get(id) ?? [];
    for (const b of data) list.push(b);
    stdin.set(id, list);
  };
  for (let i = 0; i < 80; i++) {
    const k = r(10);
    const id = 1 + r(3);
    if (k < 6) addStdin(id, bytesOf(1 + (r(4) === 0 ? r(20_000) : r(300)), i), r(20) === 0);
    else if (k === 6) {
      frames.push(encodeFrame(id, { type: "core.exec.signal", payload: { signal: 15 } }));
      others.push(`core.exec.signal ${id}`);
    } else if (k === 7) {
      frames.push(encodeFrame(id, { type: "core.fs.data", payload: { data: bytesOf(r(5000), i) } }));
      others.push(`core.fs.data ${id}`);
    } else if (k === 8) {
      // A frame shorter than its header: the decoder skips its declared bytes.
      frames.push(Uint8Array.of(0, 0, 0, 2, 0xaa, 0xbb));
      others.push("skipped");
    } else {
      // Stdin with no data (a close): always the main thread's.
      frames.push(stdinFrame(id, new Uint8Array(0)));
      others.push(`close ${id}`);
    }
  }
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) stream.set(f, (at += f.length) - f.length);
  return { stream, stdin, others };
}

/**
 * Runs the stream through a splitter in reads cut by `cut`; sessions 1 and 2 may be written
 * through (3 never), the pipe takes what `take` says. Returns what each session received and the
 * other frames the decoder saw.
 */
function run(sent: Sent, cut: () => number, take: (n: number) => number, slowWriter: () => boolean) {
  const received = new Map<number, Uint8Array[]>();
  const others: string[] = [];
  let written = 0;
  const deliver = (id: number, bytes: Uint8Array) => {
    const list = received.get(id) ?? [];
    list.push(bytes.slice());
    received.set(id, list);
  };
  let done = 0;
  const held = new Map<number, boolean>();
  let writes = 0;
  let refusedWhilePending = 0;
  let readAt = 0;
  const decoder = new FrameDecoder((n) => new Uint8Array(n), 1024 * 1024);
  /** The main thread's part: the regions of the read at `base`, handled in order. */
  const handle = (base: number, regions: number[]) => {
    let sum = 0;
    for (let i = 0; i < regions.length; i += 3) {
      const [start, length, id] = [regions[i]!, regions[i + 1]!, regions[i + 2]!];
      const bytes = sent.stream.subarray(base + start, base + start + length);
      sum += length;
      if (id === STREAM) {
        for (const ev of decoder.pushBorrowed(bytes)) {
          if (ev.kind === "skipped") others.push("skipped");
          else if (ev.kind !== "frame") throw new Error(`bad frame: ${JSON.stringify(ev)}`);
          else if (ev.frame.type === "core.exec.stdin") {
            const data = ev.frame.payload.data;
            if (data.length === 0) others.push(`close ${ev.frame.id}`);
            else {
              deliver(ev.frame.id, data);
              if (slowWriter()) held.set(ev.frame.id, true);
            }
          } else others.push(`${ev.frame.type} ${ev.frame.id}`);
        }
      } else {
        deliver(id, bytes);
        held.set(id, true);
      }
    }
    done = (done + sum) | 0;
  };
  const splitter: InboundSplitter = new InboundSplitter({
    direct(id, regions) {
      if (id === 3 || held.get(id)) return -1;
      // As the worker's target: when the main thread lacks only this read's regions so far, it
      // gets them now and catches up (unless it is busy: slowWriter); else the frame is its.
      let pending = 0;
      for (let i = 1; i < regions.length; i += 3) pending += regions[i]!;
      if (splitter.forwarded !== done && ((done + pending) | 0) === splitter.forwarded && !slowWriter()) {
        handle(readAt, regions);
        regions.length = 0;
      }
      if (splitter.forwarded !== done || held.get(id)) {
        refusedWhilePending++;
        return -1;
      }
      return id;
    },
    write(entry, address, length) {
      const n = take(length);
      deliver(entry, sent.stream.subarray(address, address + n));
      writes++;
      written += n;
      return n;
    },
  });
  const regions: number[] = [];
  for (let at = 0; at < sent.stream.length;) {
    const n = Math.min(cut(), sent.stream.length - at);
    // The address of a read is its offset in the stream here: the target reads it back from there.
    readAt = at;
    splitter.split(sent.stream.subarray(at, at + n), at, regions);
    handle(at, regions);
    // Writers catch up between reads, except a slow one now and then.
    for (const id of held.keys()) if (!slowWriter()) held.set(id, false);
    at += n;
  }
  expect(splitter.forwarded).toBe(done);
  const joined = new Map([...received].map(([id, list]) => [id, Buffer.concat(list)]));
  return { received: joined, others, writes, written, refusedWhilePending };
}

const same = (sent: Sent, got: ReturnType<typeof run>) => {
  for (const id of [1, 2, 3]) {
    const want = Buffer.from(sent.stdin.get(id) ?? []);
    const have = got.received.get(id) ?? Buffer.alloc(0);
    expect(have.length).toBe(want.length);
    expect(have.equals(want)).toBe(true);
  }
  expect(got.others).toEqual(sent.others);
};

test("every session gets exactly its stdin, in order, and every other frame reaches the decoder whole, over many cuts", () => {
  for (let seed = 1; seed <= 8; seed++) {
    const sent = hostStream(seed);
    const r = rng(seed * 97);
    const sizes = [() => 1 + r(16), () => 1 + r(600), () => 1 + r(70_000), () => 4096, () => 256 * 1024];
    for (const cut of sizes) {
      const all = run(
        sent,
        cut,
        (n) => n,
        () => false,
      );
      same(sent, all);
      // Pipes that take part of a write, or nothing, and writers that fall behind.
      same(
        sent,
        run(
          sent,
          cut,
          (n) => (r(3) === 0 ? 0 : r(n + 1)),
          () => r(4) === 0,
        ),
      );
    }
  }
}, 60_000);

test("an upload's stdin is written through, the main thread first catching up with the frames before it in the same read", () => {
  // As a host streams stdin: 1 MiB frames of one session back to back, read 256 KiB at a time.
  const data = bytesOf(12 * 1024 * 1024, 2);
  const frames = [encodeFrame(1, { type: "core.exec.signal", payload: { signal: 0 } })];
  for (let at = 0; at < data.length; at += 1024 * 1024)
    frames.push(stdinFrame(1, data.subarray(at, at + 1024 * 1024)));
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) stream.set(f, (at += f.length) - f.length);
  const sent: Sent = { stream, stdin: new Map([[1, [...data]]]), others: ["core.exec.signal 1"] };
  const got = run(
    sent,
    () => 256 * 1024,
    (n) => n,
    () => false,
  );
  same(sent, got);
  // The first frame follows the signal in the same read: the main thread gets the signal at
  // once, catches up, and every frame is written through.
  expect(got.refusedWhilePending).toBe(0);
  expect(got.written).toBe(data.length);
}, 30_000);

test("a length prefix split between reads, and a head split at each byte, are followed", () => {
  const data = bytesOf(5000, 3);
  const frames = [stdinFrame(1, data), stdinFrame(2, data), stdinFrame(1, Uint8Array.of(9))];
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) stream.set(f, (at += f.length) - f.length);
  const sent: Sent = {
    stream,
    stdin: new Map([
      [1, [...data, 9]],
      [2, [...data]],
    ]),
    others: [],
  };
  for (let first = 1; first < 120; first++) {
    let k = 0;
    same(
      sent,
      run(
        sent,
        () => (k++ === 0 ? first : 1 + (k % 7) * 1000),
        (n) => n,
        () => false,
      ),
    );
  }
});

test("a frame over the protocol's limit is handed to the decoder to skip, by its declared length", () => {
  const big = new Uint8Array(4 + 4 * 1024 * 1024 + 1);
  new DataView(big.buffer).setUint32(0, 4 * 1024 * 1024 + 1);
  const data = bytesOf(3000, 1);
  const after = stdinFrame(1, data);
  const stream = new Uint8Array(big.length + after.length);
  stream.set(big);
  stream.set(after, big.length);
  const sent: Sent = { stream, stdin: new Map([[1, [...data]]]), others: ["skipped"] };
  same(
    sent,
    run(
      sent,
      () => 256 * 1024,
      (n) => n,
      () => false,
    ),
  );
});
