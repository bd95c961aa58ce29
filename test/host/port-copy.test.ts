/**
 * The port thread's copying of output pipes (src/agent/port/copy-loop.ts), run in its real Worker
 * with a socketpair standing in for the virtio port: the frames the host gets are whole, in order
 * and the bytes encodeFrame gives; the main thread's own frames go between them at frame
 * boundaries (port-lock.ts); a host that does not read holds the copy (and the child) back, a
 * cancel waits for the frame half out, and a host that goes away frees the port. Regular files
 * (fs reads from memory) go the same way as fs.data frames.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PortCopier, type CopyEnd } from "../../src/agent/port/copier.ts";
import { COPY_FRAME_MAX } from "../../src/agent/port/copy-loop.ts";
import { INBOX_SLOTS, READ_CHUNK, SLOT_STATE_WORDS } from "../../src/agent/port/inbox.ts";
import { CONTROL_WORDS, FREE, mainBegin, mainRelease, OWNER } from "../../src/agent/port/port-lock.ts";
import type { ReaderInit } from "../../src/agent/port/reader-worker.ts";
import { newOutputTable } from "../../src/agent/exec/output-table.ts";
import { encodeFrame, type DecodeEvent } from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import { O_CLOEXEC, openFd, outputPipe, readFd, socketPair, wakePipe, writeFd } from "../../src/sys/fd-io.ts";
import { closeFd } from "../../src/sys/libc.ts";

const MiB = 1024 * 1024;
const RAW_KEEP = COPY_FRAME_MAX + 4096;

interface Rig {
  copier: PortCopier;
  control: Int32Array;
  /** The agent's end of the stand-in port (the Worker's, and the main thread's to write). */
  port: number;
  /** The host's end of the stand-in port (-1 once a test closed it). */
  host: number;
  /** Wakes the Worker (the main thread's release does when the Worker waits for the port). */
  wake(): void;
  /** How many times the Worker said the port is free for the main thread. */
  writable: { count: number };
  /** Reads what the host end holds now into the decoder. */
  drain(): void;
  events: DecodeEvent[];
  /**
   * The first bytes the host got, as they came: at least RAW_KEEP, so a whole first frame even
   * when it is of the largest size (a full 1 MiB pipe at the first read; keeping 1 MiB cut that
   * frame's last 50 bytes off, and the test comparing it failed about one run in two).
   */
  raw: Uint8Array[];
  stop(): void;
}

const rigs: Rig[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) r.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function rig(): Promise<Rig> {
  const [port, host] = socketPair();
  const [wakeRead, wakeWrite] = wakePipe();
  const wake = () => writeFd(wakeWrite, Uint8Array.of(1), "wake");
  const controlBuf = new SharedArrayBuffer(4 * CONTROL_WORDS);
  const copier = new PortCopier(wake);
  const writable = { count: 0 };
  const worker = new Worker("./src/agent/port/reader-worker.ts");
  let up: () => void;
  const connected = new Promise<void>((r) => (up = r));
  worker.onmessage = (e: MessageEvent<{ kind: string; ended?: number[]; epoch?: number }>) => {
    if (e.data.kind === "copies") copier.onEnded(e.data.ended!);
    else if (e.data.kind === "writable") writable.count++;
    else if (e.data.kind === "up") {
      // As the port link does: copies from now on belong to this host.
      copier.epoch = e.data.epoch!;
      up();
    }
  };
  const init: ReaderInit = {
    fd: port,
    wakeFd: wakeRead,
    control: controlBuf,
    inbox: new SharedArrayBuffer(INBOX_SLOTS * READ_CHUNK),
    slots: new SharedArrayBuffer(4 * SLOT_STATE_WORDS),
    outputs: newOutputTable(),
    copies: copier.table,
  };
  worker.postMessage(init);
  const decoder = new FrameDecoder();
  const events: DecodeEvent[] = [];
  const raw: Uint8Array[] = [];
  let rawBytes = 0;
  const buf = new Uint8Array(MiB);
  const r: Rig = {
    copier,
    control: new Int32Array(controlBuf),
    port,
    host,
    wake,
    writable,
    events,
    raw,
    drain() {
      for (let n = readFd(host, buf, "host end"); n > 0; n = readFd(host, buf, "host end")) {
        const chunk = buf.slice(0, n); // the decoder keeps what it is given
        if (rawBytes < RAW_KEEP) raw.push(chunk);
        rawBytes += n;
        decoder.push(chunk);
        for (let ev = decoder.next(); ev; ev = decoder.next()) events.push(ev);
      }
    },
    stop() {
      worker.terminate();
      for (const fd of [port, host, wakeRead, wakeWrite]) if (fd >= 0) closeFd(fd);
    },
  };
  rigs.push(r);
  // The Worker takes the port for a host's once its poll returns without POLLHUP.
  wake();
  await connected;
  return r;
}

/** A pipe whose write end a `cat` of `bytes` holds; returns the read end (non-blocking). */
function catInto(bytes: Uint8Array): { fd: number; exited: Promise<number> } {
  const dir = mkdtempSync(join(tmpdir(), "port-copy-"));
  dirs.push(dir);
  writeFileSync(join(dir, "data"), bytes);
  const [r, w] = outputPipe(MiB);
  const child = Bun.spawn(["cat", join(dir, "data")], { stdout: w, stderr: "ignore" });
  closeFd(w);
  return { fd: r, exited: child.exited };
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Reads the host end until `done` settles, then once more. */
async function pumpHost(r: Rig, done: Promise<unknown>): Promise<void> {
  let over = false;
  void done.finally(() => (over = true));
  const stopped = () => r.host < 0 || !rigs.includes(r);
  while (!over && !stopped()) {
    r.drain();
    await Bun.sleep(1);
  }
  if (!stopped()) r.drain();
}

function dataOf(events: DecodeEvent[], id: number, type: string): Uint8Array {
  const parts = events.flatMap((e) =>
    e.kind === "frame" && e.frame.id === id && e.frame.type === type
      ? [(e.frame.payload as { data: Uint8Array }).data]
      : [],
  );
  return Buffer.concat(parts);
}

test("a pipe's bytes reach the host as whole stdout frames of its session, in order, and the copy ends at EOF", async () => {
  const r = await rig();
  const bytes = pattern(3 * MiB + 12345, 7);
  const { fd, exited } = catInto(bytes);
  const job = await r.copier.start(fd, 42, "core.exec.stdout");
  await pumpHost(r, job.ended);
  expect(await job.ended).toBe("eof");
  expect(await exited).toBe(0);
  expect(r.events.every((e) => e.kind === "frame")).toBe(true);
  expect(Buffer.compare(dataOf(r.events, 42, "core.exec.stdout"), bytes)).toBe(0);
  expect(job.copied).toBe(bytes.length);
  // Byte for byte what the codec's own encoder makes of the first frame.
  const first = r.events[0]!;
  if (first.kind !== "frame") throw new Error("not a frame");
  const data = (first.frame.payload as { data: Uint8Array }).data;
  // As much as the pipe held at the first read (cat writes 128 KiB at a time), at most a frame.
  expect(data.length).toBeGreaterThan(0);
  expect(data.length).toBeLessThanOrEqual(COPY_FRAME_MAX);
  const encoded = encodeFrame(42, {
    type: "core.exec.stdout",
    payload: { data: bytes.subarray(0, data.length) },
  });
  expect(Buffer.compare(Buffer.concat(r.raw).subarray(0, encoded.length), encoded)).toBe(0);
  closeFd(fd);
});

test("two pipes at once (stdout and stderr of two sessions): every byte, frames whole", async () => {
  const r = await rig();
  const a = pattern(2 * MiB + 5, 1);
  const b = pattern(MiB + 77, 2);
  const pa = catInto(a);
  const pb = catInto(b);
  const ja = await r.copier.start(pa.fd, 1, "core.exec.stdout");
  const jb = await r.copier.start(pb.fd, 2, "core.exec.stderr");
  await pumpHost(r, Promise.all([ja.ended, jb.ended]));
  expect([await ja.ended, await jb.ended]).toEqual(["eof", "eof"]);
  expect(r.events.every((e) => e.kind === "frame")).toBe(true);
  expect(Buffer.compare(dataOf(r.events, 1, "core.exec.stdout"), a)).toBe(0);
  expect(Buffer.compare(dataOf(r.events, 2, "core.exec.stderr"), b)).toBe(0);
  for (const p of [pa, pb]) closeFd(p.fd);
});

test("the main thread's frames go out between copied frames, each whole", async () => {
  const r = await rig();
  const bytes = pattern(8 * MiB, 3);
  const { fd } = catInto(bytes);
  const job = await r.copier.start(fd, 5, "core.exec.stdout");
  // As the output queue does: a frame only with the port, written whole, then let go.
  const sending = (async () => {
    let sent = 0;
    while (sent < 100) {
      if (!mainBegin(r.control)) {
        await Bun.sleep(0);
        continue;
      }
      const frame = encodeFrame(9, { type: "core.exec.stdout", payload: { data: pattern(100, sent) } });
      for (let at = 0; at < frame.length;) {
        const n = writeFd(r.port, frame.subarray(at), "port");
        if (n > 0) at += n;
        else await Bun.sleep(1);
      }
      if (mainRelease(r.control)) r.wake();
      sent++;
      await Bun.sleep(0);
    }
  })();
  await pumpHost(r, Promise.all([job.ended, sending]));
  expect(await job.ended).toBe("eof");
  expect(r.events.every((e) => e.kind === "frame")).toBe(true);
  expect(Buffer.compare(dataOf(r.events, 5, "core.exec.stdout"), bytes)).toBe(0);
  const mine = r.events.filter((e) => e.kind === "frame" && e.frame.id === 9);
  expect(mine.length).toBe(100);
  // Taking turns: the main thread's first frame came before the copy's last.
  const ids = r.events.map((e) => (e.kind === "frame" ? e.frame.id : -1));
  expect(ids.indexOf(9)).toBeLessThan(ids.lastIndexOf(5));
  closeFd(fd);
});

/** Waits until `cond` holds (polling), failing after `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error("timed out");
    await Bun.sleep(5);
  }
}

test("a host that does not read holds the copy back; a cancel ends it only once the frame half out is whole", async () => {
  const r = await rig();
  const bytes = pattern(16 * MiB, 4);
  const { fd, exited } = catInto(bytes);
  const job = await r.copier.start(fd, 6, "core.exec.stdout");
  let end = null as CopyEnd | null;
  void job.ended.then((e) => (end = e));
  await until(() => r.copier.portBlocked);
  const copied = job.copied;
  await Bun.sleep(200);
  // Nothing more is read from the pipe: the child (cat) waits on its full pipe.
  expect(job.copied).toBe(copied);
  expect(copied).toBeLessThan(bytes.length);
  job.cancel();
  await Bun.sleep(200);
  expect(end).toBeNull();
  // The host reads again: the frame goes out whole and the copy ends there.
  await pumpHost(r, job.ended);
  expect(end).toBe("cancelled");
  expect(r.copier.portBlocked).toBe(false);
  expect(r.events.every((e) => e.kind === "frame")).toBe(true);
  const got = dataOf(r.events, 6, "core.exec.stdout");
  expect(got.length).toBe(job.copied >>> 0);
  expect(Buffer.compare(got, bytes.subarray(0, got.length))).toBe(0);
  closeFd(fd); // cat gets EPIPE
  await exited;
});

test("a host that goes away mid-frame: the frame is dropped and the port is free for the main thread", async () => {
  const r = await rig();
  const { fd, exited } = catInto(pattern(16 * MiB, 5));
  const job = await r.copier.start(fd, 7, "core.exec.stdout");
  await until(() => r.copier.portBlocked);
  expect(mainBegin(r.control)).toBe(false);
  closeFd(r.host);
  r.host = -1;
  await until(() => Atomics.load(r.control, OWNER) === FREE || Atomics.load(r.control, OWNER) === 1);
  expect(r.copier.portBlocked).toBe(false);
  job.cancel();
  expect(await job.ended).toBe("cancelled");
  expect(mainBegin(r.control)).toBe(true);
  mainRelease(r.control);
  closeFd(fd);
  await exited;
});

test("a copy of an earlier connection is ended, and nothing of it reaches the host that came after", async () => {
  const r = await rig();
  const { fd, exited } = catInto(pattern(MiB, 8));
  // The main thread has not yet heard that its host left and the next one came.
  r.copier.epoch -= 1;
  const job = await r.copier.start(fd, 8, "core.exec.stdout");
  expect(await job.ended).toBe("cancelled");
  await Bun.sleep(50);
  r.drain();
  expect(r.events).toEqual([]);
  closeFd(fd);
  await exited;
});

test("a regular file is copied as core.fs.data frames of its request from its offset to its end; a read that fails ends with its errno", async () => {
  const r = await rig();
  const dir = mkdtempSync(join(tmpdir(), "port-copy-"));
  dirs.push(dir);
  const bytes = pattern(2 * MiB + 777, 3);
  writeFileSync(join(dir, "file"), bytes);
  const fd = openFd(join(dir, "file"), O_CLOEXEC);
  try {
    const job = await r.copier.start(fd, 9, "core.fs.data");
    await pumpHost(r, job.ended);
    expect([await job.ended, job.errno]).toEqual(["eof", 0]);
    expect(Buffer.compare(dataOf(r.events, 9, "core.fs.data"), bytes)).toBe(0);
    // A file fills every frame but the last: the fewest frames, each a round of the loop.
    const sizes = r.events.map((e) =>
      e.kind === "frame" ? (e.frame.payload as { data: Uint8Array }).data.length : -1,
    );
    expect(sizes).toEqual([COPY_FRAME_MAX, COPY_FRAME_MAX, 777]);
  } finally {
    closeFd(fd);
  }
  // read(2) of a directory fails with EISDIR: the copy ends with "error" and that errno, and
  // sends nothing.
  const before = r.events.length;
  const dirFd = openFd(dir, O_CLOEXEC);
  try {
    const job = await r.copier.start(dirFd, 10, "core.fs.data");
    await pumpHost(r, job.ended);
    expect([await job.ended, job.errno]).toEqual(["error", 21]);
    expect(r.events.length).toBe(before);
  } finally {
    closeFd(dirFd);
  }
});
