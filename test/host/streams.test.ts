/**
 * Bulk data: 256 MiB through stdout and through fs write + read, checked end to end with
 * SHA-256, the frames a long stdout goes in, and the bound on memory when the host does not read.
 */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { BULK_FRAME_MAX } from "../../src/agent/output-queue.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import { agentPerFile, startAgent, text } from "./harness.ts";
import { noise } from "../support.ts";

const MiB = 1024 * 1024;
const TOTAL = 256 * MiB;
const host = agentPerFile();

/** Deterministic pseudo-random 1 MiB blocks, so content errors cannot hide in zeros. */
const block = (seed: number) => noise(MiB, seed);

test("256 MiB through stdout arrive whole (SHA-256)", async () => {
  const src = join(host.agent.dir, "stdout-src.bin");
  const hash = createHash("sha256");
  const blocks = Array.from({ length: 16 }, (_, i) => block(i + 1));
  const file = Buffer.concat(blocks);
  writeFileSync(src, file);
  for (let i = 0; i < TOTAL / file.length; i++) hash.update(file);
  const h = host.client.exec("sh", ["-c", `for i in $(seq 16); do cat ${src}; done`]);
  const got = createHash("sha256");
  let bytes = 0;
  for await (const o of h.output) {
    expect(o.stream).toBe("stdout");
    // The client hands a frame's data on as it arrives: never more than a frame's.
    expect(o.data.length).toBeLessThanOrEqual(BULK_FRAME_MAX);
    got.update(o.data);
    bytes += o.data.length;
  }
  expect((await h.exited).code).toBe(0);
  expect(bytes).toBe(TOTAL);
  expect(got.digest("hex")).toBe(hash.digest("hex"));
}, 120_000);

test("a long stdout goes in frames of the bulk size, each whole (frames read off the socket, no client)", async () => {
  const agent = await startAgent();
  try {
    const src = join(agent.dir, "frames-src.bin");
    const file = Buffer.from(block(99).subarray(0, MiB - 3)); // so reads do not line up with frames
    writeFileSync(src, file);
    const socket = createConnection(agent.socket);
    const decoder = new FrameDecoder();
    const sizes: number[] = [];
    const got = createHash("sha256");
    const done = new Promise<number>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        decoder.push(chunk);
        for (let ev = decoder.next(); ev; ev = decoder.next()) {
          if (ev.kind !== "frame") return reject(new Error(`a bad frame: ${ev.error.message}`));
          const f = ev.frame;
          if (f.type === "core.ready")
            socket.write(
              encodeFrame(1, {
                type: "core.exec.request",
                payload: { cmd: "sh", args: ["-c", `for i in $(seq 64); do cat ${src}; done`] },
              } as never),
            );
          else if (f.type === "core.exec.stdout") {
            sizes.push(f.payload.data.length);
            got.update(f.payload.data);
          } else if (f.type === "core.exec.exited") resolve(f.payload.code);
        }
      });
    });
    expect(await done).toBe(0);
    socket.destroy();
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBe(64 * file.length);
    const want = createHash("sha256");
    for (let i = 0; i < 64; i++) want.update(file);
    expect(got.digest("hex")).toBe(want.digest("hex"));
    // A read takes up to READ_BUFFER_SIZE (four frames' worth); frames stay at the bulk frame
    // size, and most of the stream goes in full ones (the writer is far ahead of the reader).
    expect(Math.max(...sizes)).toBe(BULK_FRAME_MAX);
    expect(sizes.filter((n) => n === BULK_FRAME_MAX).length * BULK_FRAME_MAX).toBeGreaterThan(total / 2);
  } finally {
    await agent.stop();
  }
}, 120_000);

test("256 MiB through fs write and back through fs read arrive whole (SHA-256)", async () => {
  const path = join(host.agent.dir, "upload.bin");
  const sent = createHash("sha256");
  async function* source() {
    for (let i = 0; i < TOTAL / MiB; i++) {
      const b = block(i + 100);
      sent.update(b);
      yield b;
    }
  }
  await host.client.writeFile(path, source());
  const expected = sent.digest("hex");
  const onDisk = await host.client.exec("sha256sum", [path]).collect();
  expect(text(onDisk.stdout).split(" ")[0]).toBe(expected);
  const back = createHash("sha256");
  let bytes = 0;
  for await (const c of host.client.read(path)) {
    back.update(c);
    bytes += c.length;
  }
  expect(bytes).toBe(TOTAL);
  expect(back.digest("hex")).toBe(expected);
}, 120_000);

test("when the host does not read, the child blocks and agentd's memory stays bounded", async () => {
  const progress = join(host.agent.dir, "progress");
  // 512 MiB offered; the client stops reading (the socket is paused once 16 MiB are unread).
  const h = host.client.exec("sh", [
    "-c",
    `i=0; while [ $i -lt 512 ]; do head -c 1048576 /dev/zero; i=$((i+1)); echo $i > ${progress}; done`,
  ]);
  await h.started;
  const rssBefore = host.agent.rssKiB();
  await Bun.sleep(1500);
  const stalledAt = Number((await Bun.file(progress).text()).trim());
  await Bun.sleep(1000);
  const stillAt = Number((await Bun.file(progress).text()).trim());
  const rssStalled = host.agent.rssKiB();
  // The child is blocked: it made (almost) no progress in the last second, far below 512 MiB.
  expect(stalledAt).toBeLessThan(200);
  expect(stillAt - stalledAt).toBeLessThanOrEqual(1);
  // agentd holds at most its queue bound (8 MiB) and socket buffers beyond its idle size.
  expect(rssStalled - rssBefore).toBeLessThan(48 * 1024);
  let bytes = 0;
  for await (const o of h.output) bytes += o.data.length;
  expect(bytes).toBe(512 * MiB);
  expect((await h.exited).code).toBe(0);
}, 60_000);
