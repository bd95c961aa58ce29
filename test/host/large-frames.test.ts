/**
 * Frames larger than agentd's 1 MiB piece (3 MiB fs.data chunks, as the Rust host sends uploads;
 * 3.5 MiB stdin frames, as another host may): agentd hands their data on in pieces as it arrives
 * instead of gathering whole frames (FrameDecoder's `pieceSize`), and the host still sees one
 * frame: the bytes arrive whole and in order, and a frame gets at most one answer, never one per
 * piece.
 */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentClient } from "../../src/host/client.ts";
import { FS_CHUNK_SIZE } from "../../src/protocol/constants.ts";
import type { Frame } from "../../src/protocol/payloads.ts";
import { agentPerFile, inMountNamespace, startAgent, text } from "./harness.ts";
import { noise } from "../support.ts";

const MiB = 1024 * 1024;
const host = agentPerFile();

/** The fs.response errors agentd sent for `id` so far, in order. */
const answers = (c: AgentClient, id: number) =>
  c.unrouted
    .filter(
      (f): f is Extract<Frame, { type: "core.fs.response" }> => f.id === id && f.type === "core.fs.response",
    )
    .map((f) => (f.payload.ok ? "ok" : (f.payload.error ?? "")));

/** Sends a Write request and then `chunks` (each one fs.data frame), as a host may, unawaited answers. */
async function rawUpload(c: AgentClient, path: string, chunks: Uint8Array[]): Promise<number> {
  const id = c.allocateId();
  await c.send(id, { type: "core.fs.request", payload: { op: { op: "Write", path, mode: null } } });
  for (const data of chunks) await c.send(id, { type: "core.fs.data", payload: { data } });
  return id;
}

test("an upload in 3 MiB chunks (the Rust host's) arrives whole", async () => {
  // One buffer: the client cuts it into FS_CHUNK_SIZE frames, each three pieces in agentd.
  expect(FS_CHUNK_SIZE).toBe(3 * MiB);
  const whole = noise(40 * MiB + 12345, 1);
  const path = join(host.agent.dir, "chunks.bin");
  await host.client.writeFile(path, whole);
  expect(createHash("sha256").update(readFileSync(path)).digest("hex")).toBe(
    createHash("sha256").update(whole).digest("hex"),
  );
}, 60_000);

test("3.5 MiB stdin frames reach the child whole and in order", async () => {
  const h = host.client.exec("sha256sum");
  await h.started;
  const sent = createHash("sha256");
  for (let i = 0; i < 12; i++) {
    const data = noise(3.5 * MiB + i, i + 10);
    sent.update(data);
    await host.client.send(h.id, { type: "core.exec.stdin", payload: { data } });
  }
  await h.closeStdin();
  const r = await h.collect();
  expect(r.code).toBe(0);
  expect(text(r.stdout).split(" ")[0]).toBe(sent.digest("hex"));
}, 60_000);

test("stdin frames of 3.5 MiB for no live session are ignored with one log line per frame", async () => {
  const id = host.client.allocateId();
  const logged = () =>
    host.agent
      .log()
      .split("\n")
      .filter((l) => l.includes(`id ${id}: core.exec.stdin for no live`)).length;
  const before = logged();
  for (let i = 0; i < 3; i++)
    await host.client.send(id, { type: "core.exec.stdin", payload: { data: noise(3.5 * MiB, i) } });
  // The connection goes on: an exec after them runs.
  expect(text((await host.client.exec("echo", ["after"]).collect()).stdout)).toBe("after\n");
  expect(logged() - before).toBe(3);
});

test("a Write that cannot open gets one 'unknown write session' per 3 MiB chunk, not one per piece", async () => {
  const target = join(host.agent.dir, "a-directory");
  mkdirSync(target);
  const id = await rawUpload(host.client, target, []);
  await Bun.sleep(200); // the open has failed and been answered
  const chunks = [noise(3 * MiB, 1), noise(3 * MiB, 2), new Uint8Array(0)];
  for (const data of chunks) await host.client.send(id, { type: "core.fs.data", payload: { data } });
  await Bun.sleep(300);
  const got = answers(host.client, id);
  expect(got[0]).toMatch(/^open for write: /);
  expect(got.slice(1)).toEqual(Array(3).fill(`unknown write session: ${id}`));
});

test("a disk that fills inside a 3 MiB chunk: the real error for that chunk, one 'unknown write session' for each later one", async () => {
  const base = mkdtempSync(join(tmpdir(), "agentd-full-"));
  const small = join(base, "small");
  mkdirSync(small);
  // agentd in its own mount namespace with a 2 MiB tmpfs: the first chunk's third piece fills it.
  const full = await startAgent({
    wrap: inMountNamespace(`mount -t tmpfs -o size=2m none "${small}"`),
  });
  try {
    const c = await full.connect();
    const id = await rawUpload(c, join(small, "big.bin"), [
      noise(3 * MiB, 3),
      noise(3 * MiB, 4),
      new Uint8Array(0),
    ]);
    for (let i = 0; i < 50 && answers(c, id).length < 3; i++) await Bun.sleep(100);
    await Bun.sleep(300); // no more than three come
    const got = answers(c, id);
    expect(got[0]).toMatch(/^write: .*(No space left|ENOSPC)/);
    expect(got.slice(1)).toEqual([`unknown write session: ${id}`, `unknown write session: ${id}`]);
    // The target was never created; the connection goes on.
    const ls = await c.exec("ls", ["-A", small]).collect();
    expect(text(ls.stdout)).toBe("");
    c.close();
  } finally {
    await full.stop();
    rmSync(base, { recursive: true, force: true });
  }
});
