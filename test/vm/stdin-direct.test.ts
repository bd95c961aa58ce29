/**
 * Stdin written into the child's pipe by the port thread itself (port/inbound-split.ts), in the
 * real guest: while the session's writer holds nothing, the port thread has its own copy of the
 * pipe and writes the host's frames through; a child that stops reading sends the rest through
 * the main thread and back again; the end of stdin reaches the child at once; what the host sends
 * after it is dropped; and sessions streaming at once each get their own bytes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { AgentClient } from "../../src/host/client.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { noise } from "../support.ts";
import { text } from "./harness.ts";
import { guestPerFile } from "./guest-per-file.ts";

const guest = guestPerFile();
const MiB = 1024 * 1024;
// agentd serves one host at a time: one connection for the file.
let c: AgentClient;
beforeAll(async () => {
  c = await guest.connect();
}, 60_000);
afterAll(() => c?.close());

const sh = async (s: string) => text((await c.exec("sh", ["-c", s]).collect()).stdout).trim();

/** How many of agentd's descriptors are the pipe that is `pid`'s stdin. */
const agentdCopies = (pid: number) =>
  sh(
    `p=$(readlink /proc/${pid}/fd/0); n=0; for f in /proc/$(pidof agentd)/fd/*; do ` +
      `[ "$(readlink $f)" = "$p" ] && n=$((n+1)); done; echo $n`,
  ).then(Number);

test("the port thread holds its own copy of a piped stdin while the session runs, and none once stdin closes: the child sees its end at once", async () => {
  const h = c.exec("sh", ["-c", "cat > /dev/null; echo end; exec sleep 600"]);
  // The exec helper execs the command: the shell is the session's process.
  const pid = await h.started;
  await h.write(noise(4 * MiB, 1));
  // The main thread's end and the port thread's own.
  expect(await agentdCopies(pid)).toBe(2);
  const t = performance.now();
  await h.closeStdin();
  const out = h.output[Symbol.asyncIterator]();
  expect(text((await out.next()).value!.data)).toBe("end\n");
  expect(performance.now() - t).toBeLessThan(10_000);
  // cat has its end of file, so neither of agentd's copies is open any more (the shell still has
  // the pipe as its stdin).
  expect(await agentdCopies(pid)).toBe(0);
  h.signal(9);
  expect(await h.exited).toEqual({ code: -1, signal: 9 });
}, 60_000);

test("a child that stops reading now and then: every byte in order, through the port thread's writes and the main thread's alike", async () => {
  // Reads a little, sleeps (the pipe fills, the rest goes through the main thread), and again.
  const h = c.exec("sh", [
    "-c",
    "(sleep 1; for i in 1 2 3 4 5 6 7 8; do dd bs=1M count=3 2>/dev/null; sleep 0.3; done; cat) | sha256sum",
  ]);
  await h.started;
  const sent = createHash("sha256");
  for (let i = 0; i < 48; i++) {
    const block = noise(MiB, 100 + i);
    sent.update(block);
    await h.write(block);
  }
  await h.closeStdin();
  expect(text((await h.collect()).stdout).split(" ")[0]).toBe(sent.digest("hex"));
}, 180_000);

test("four sessions streaming stdin at once, with other requests between: each gets exactly its own bytes", async () => {
  const sessions = Array.from({ length: 4 }, (_, k) => {
    const h = c.exec("sha256sum", []);
    const hash = createHash("sha256");
    return { h, hash, k };
  });
  await Promise.all(sessions.map((s) => s.h.started));
  for (let i = 0; i < 12; i++) {
    await Promise.all(
      sessions.map(async (s) => {
        // Sizes that do not line up with the port's reads or the frames.
        const block = noise(300_000 + s.k * 77_777 + i, 1000 * s.k + i);
        s.hash.update(block);
        await s.h.write(block);
      }),
    );
    if (i % 4 === 0) expect(await sh("echo between")).toBe("between");
  }
  await Promise.all(sessions.map((s) => s.h.closeStdin()));
  for (const s of sessions)
    expect(text((await s.h.collect()).stdout).split(" ")[0]).toBe(s.hash.digest("hex"));
}, 180_000);

test("stdin the host sends after closing it is dropped, through the port thread as through the main thread", async () => {
  const h = c.exec("wc", ["-c"]);
  await h.started;
  await h.write(noise(2 * MiB, 7));
  await h.closeStdin();
  // A host that goes on: the frames after the close must not reach the child.
  const more = encodeFrame(h.id, { type: "core.exec.stdin", payload: { data: noise(MiB, 8) } });
  await c.sendRaw(more);
  await c.sendRaw(more);
  expect(text((await h.collect()).stdout).trim()).toBe(String(2 * MiB));
}, 60_000);
