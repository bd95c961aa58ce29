/**
 * The client library's API beyond what the protocol tests use: web streams for stdin, uploads and
 * downloads, typed errors for a command that cannot start, and a lost connection surfacing as a
 * ConnectionError on every pending promise.
 */
import { expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AgentClient,
  ConnectionError,
  ErrorCodes,
  ExecStartError,
  FrameTooLargeError,
  RemoteFsError,
} from "../../src/host/index.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { STAND_IN_READY } from "../support.ts";
import { agentPerFile, startAgent, text } from "./harness.ts";

const host = agentPerFile();

test("stdin as a WritableStream: piping a ReadableStream into a command", async () => {
  const h = host.client.exec("sha256sum");
  const data = randomBytes(3 * 1024 * 1024);
  await new Blob([data]).stream().pipeTo(h.stdin);
  const r = await h.collect();
  expect(r.code).toBe(0);
  expect(text(r.stdout).split(" ")[0]).toBe(new Bun.CryptoHasher("sha256").update(data).digest("hex"));
});

test("writeStream and readStream move a file through web streams, atomically and with its mode", async () => {
  const path = join(host.agent.dir, "streamed.bin");
  const data = randomBytes(9 * 1024 * 1024 + 3);
  await new Blob([data]).stream().pipeTo(host.client.writeStream(path, 0o640));
  expect(readFileSync(path).equals(data)).toBe(true);
  expect(statSync(path).mode & 0o777).toBe(0o640);
  const back = Buffer.concat(await Array.fromAsync(host.client.readStream(path)));
  expect(back.equals(data)).toBe(true);
});

test("a refused write rejects the stream's close with RemoteFsError", async () => {
  writeFileSync(join(host.agent.dir, "plain"), "x");
  const w = host.client.writeStream(join(host.agent.dir, "plain/child"));
  const err = await new Blob(["data"])
    .stream()
    .pipeTo(w)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RemoteFsError);
  const missing = await Array.fromAsync(host.client.readStream("/no/such/file")).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(RemoteFsError);
  expect((missing as RemoteFsError).notFound).toBe(true);
});

test("a command that cannot start rejects `started` with ExecStartError", async () => {
  const h = host.client.exec("/no/such/program");
  const e = await h.started.catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ExecStartError);
  expect((e as ExecStartError).notFound).toBe(true);
  expect(await h.exited).toEqual({ code: -1 });
});

test("a lost connection rejects exited and ends output with ConnectionError", async () => {
  const own = await startAgent();
  try {
    const c = await own.connect();
    const h = c.exec("sleep", ["30"]);
    await h.started;
    own.proc.kill(9);
    expect(await h.exited.catch((e: unknown) => e)).toBeInstanceOf(ConnectionError);
    expect(await Array.fromAsync(h.output).catch((e: unknown) => e)).toBeInstanceOf(ConnectionError);
  } finally {
    await own.stop();
  }
});

test("a dozen concurrent uploads wait for the socket without Node's listener-leak warning", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on("warning", onWarning);
  try {
    const block = new Uint8Array(1 << 20).fill(7);
    const counts = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const h = host.client.exec("wc", ["-c"]);
        for (let i = 0; i < 8; i++) await h.write(block);
        await h.closeStdin();
        return text((await h.collect()).stdout).trim();
      }),
    );
    expect(counts).toEqual(Array(12).fill(String(8 << 20)));
    await Bun.sleep(10); // warnings are emitted on a later tick
    expect(warnings).toEqual([]);
  } finally {
    process.off("warning", onWarning);
  }
});

test("senders waiting for a full socket fail with ConnectionError when the connection is lost", async () => {
  const own = await startAgent();
  try {
    const c = await own.connect();
    // 64 MiB of stdin while agentd is stopped: the socket fills and writes wait for it to drain
    // (agentd running spills stdin a child does not read to a file as fast as it comes).
    const h = c.exec("sh", ["-c", "sleep 30"]);
    await h.started;
    own.proc.kill("SIGSTOP");
    const block = new Uint8Array(4 << 20);
    const writes = Array.from({ length: 16 }, () =>
      h.write(block).then(
        () => "sent",
        (e: unknown) => e,
      ),
    );
    await Bun.sleep(300);
    own.proc.kill(9);
    const results = await Promise.race([Promise.all(writes), Bun.sleep(5000).then(() => "hung")]);
    expect(results).not.toBe("hung");
    expect((results as unknown[]).some((r) => r instanceof ConnectionError)).toBe(true);
  } finally {
    await own.stop();
  }
});

test("a stdin write longer than the largest frame arrives whole, and a write made meanwhile comes after it", async () => {
  // 10 MiB: one frame would be over MAX_FRAME_SIZE (refused by agentd, its bytes lost).
  const big = randomBytes(10 * 1024 * 1024 + 123);
  const h = host.client.exec("sha256sum");
  const first = h.write(big);
  const second = h.write("tail\n"); // not awaited before: must not land among the chunks
  await Promise.all([first, second]);
  await h.closeStdin();
  const r = await h.collect();
  const want = createHash("sha256").update(big).update("tail\n").digest("hex");
  expect(text(r.stdout).split(" ")[0]).toBe(want);
});

test("a 64 MiB stdin write made at once is held by the client until the socket drains, not piled into it, and arrives whole", async () => {
  const big = randomBytes(64 * 1024 * 1024);
  // The child reads only after a while: agentd stops reading the link, the socket fills.
  const h = host.client.exec("sh", ["-c", "sleep 0.5; sha256sum"]);
  await h.started;
  const sent = h.write(big);
  let maxSocket = 0;
  let maxHeld = 0;
  let done = false;
  void sent.then(() => (done = true));
  while (!done) {
    const b = host.client.sendBacklog;
    maxSocket = Math.max(maxSocket, b.socket);
    maxHeld = Math.max(maxHeld, b.held);
    await Bun.sleep(5);
  }
  await h.closeStdin();
  const r = await h.collect();
  expect(text(r.stdout).split(" ")[0]).toBe(createHash("sha256").update(big).digest("hex"));
  // Handing all 64 frames to the socket at once made it copy its growing backlog (a 224 MiB
  // write: 9.5 s of the client's CPU, 22 MB/s into a guest): the socket now gets one frame
  // past its high-water mark, the client holds the rest in order.
  expect(maxSocket).toBeLessThanOrEqual(2 * 1024 * 1024 + 64);
  expect(maxHeld).toBeGreaterThan(32 * 1024 * 1024);
  expect(host.client.sendBacklog).toEqual({ socket: 0, held: 0 });
});

test("close() hands the frames the client still holds to the agent before it ends the connection", async () => {
  const own = await startAgent();
  try {
    const c = await own.connect();
    const path = join(own.dir, "sent-then-closed.bin");
    const id = c.allocateId();
    const block = new Uint8Array(1 << 20).fill(9);
    // Not awaited: most are still held by the client when close() is called.
    const sends = [
      c.send(id, { type: "core.fs.request", payload: { op: { op: "Write", path, mode: null } } }),
    ];
    for (let i = 0; i < 32; i++) sends.push(c.send(id, { type: "core.fs.data", payload: { data: block } }));
    sends.push(c.send(id, { type: "core.fs.data", payload: { data: new Uint8Array(0) } }));
    expect(c.sendBacklog.held).toBeGreaterThan(0);
    c.close();
    await Promise.all(sends);
    // agentd finishes an upload whose end arrived, even after the host went away.
    for (let i = 0; i < 100 && !(statSync(path, { throwIfNoEntry: false })?.size === 32 << 20); i++)
      await Bun.sleep(50);
    expect(statSync(path).size).toBe(32 << 20);
  } finally {
    await own.stop();
  }
});

test("close() takes what still arrives: a consumer that broke off an endless output does not keep the connection from ending", async () => {
  // A stand-in for the VM relay's side: core.ready, then stdout frames for the exec as fast as the
  // socket takes them; on the client's end it makes no more and closes once what it queued has
  // gone out (relay-splice.c hands a client that left what its pipe still holds).
  const dir = mkdtempSync(join(tmpdir(), "client-close-"));
  const path = join(dir, "agent.sock");
  const server = createServer((s) => {
    s.on("error", () => {});
    s.write(STAND_IN_READY);
    let streaming = false;
    s.on("data", (d: Buffer) => {
      if (streaming || d.length < 9) return;
      streaming = true;
      const frame = encodeFrame(d.readUInt32BE(4), {
        type: "core.exec.stdout",
        payload: { data: new Uint8Array(256 * 1024) },
      });
      const pump = () => {
        while (streaming && s.write(frame)) {}
        if (streaming) s.once("drain", pump);
      };
      pump();
    });
    s.on("end", () => {
      streaming = false;
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const c = await AgentClient.connect(path);
    await c.ready;
    const h = c.exec("endless");
    let got = 0;
    for await (const o of h.output) if ((got += o.data.length) >= 1024 * 1024) break;
    // What keeps arriving piles up in the abandoned output until the client pauses its socket.
    for (let i = 0; i < 200 && h.output.bytes <= 16 * 1024 * 1024; i++) await Bun.sleep(25);
    expect(h.output.bytes).toBeGreaterThan(16 * 1024 * 1024);
    c.close();
    const closed = await Promise.race([c.closed().then(() => "closed"), Bun.sleep(5000).then(() => "held")]);
    expect(closed).toBe("closed");
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);

test("a request that would be a frame over the largest is refused by the client with FrameTooLargeError, not left unanswered", async () => {
  const huge = "x".repeat(5 * 1024 * 1024);
  const tooLarge = { name: "FrameTooLargeError", code: ErrorCodes.FRAME_TOO_LARGE };
  expect(
    await host.client
      .exec("echo", [huge])
      .collect()
      .catch((e) => e),
  ).toMatchObject(tooLarge);
  expect(await host.client.stat(`/${huge}`).catch((e) => e)).toMatchObject(tooLarge);
  expect(await host.client.readFile(`/${huge}`).catch((e) => e)).toMatchObject(tooLarge);
  expect(await host.client.writeFile(`/${huge}`, "hi").catch((e) => e)).toMatchObject(tooLarge);
  const e = await host.client.exec("echo", [huge]).started.catch((e) => e);
  expect(e).toBeInstanceOf(FrameTooLargeError);
  expect(e.message).toMatch(
    /core\.exec\.request would be a frame of \d+ bytes, over the largest the protocol allows \(4194304\)/,
  );
  // The connection goes on.
  expect(text((await host.client.exec("echo", ["after"]).collect()).stdout)).toBe("after\n");
});

test("a second core.ready on the connection (agentd restarted) fails what was in flight with ConnectionError; the connection goes on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "client-restart-"));
  const path = join(dir, "agent.sock");
  // A stand-in agent: greets, and greets again 100 ms after the client's first request.
  let received = 0;
  let greetedAgain = false;
  const server = Bun.listen({
    unix: path,
    socket: {
      open: (s) => void s.write(STAND_IN_READY),
      data(s, chunk) {
        received += chunk.length;
        if (greetedAgain) return;
        greetedAgain = true;
        setTimeout(() => s.write(STAND_IN_READY), 100);
      },
    },
  });
  try {
    const c = await AgentClient.connect(path);
    const exec = c.exec("sleep", ["60"]).collect();
    const stat = c.stat("/");
    const [e1, e2] = await Promise.all([
      exec.then(
        () => null,
        (e: Error) => e,
      ),
      stat.then(
        () => null,
        (e: Error) => e,
      ),
    ]);
    expect(e1).toBeInstanceOf(ConnectionError);
    expect(e1!.message).toContain("restarted");
    expect(e2?.message ?? "").toContain("restarted");
    // Still connected: the next request goes out on the same socket.
    const before = received;
    void c.stat("/").catch(() => {});
    for (let i = 0; i < 50 && received === before; i++) await Bun.sleep(10);
    expect(received).toBeGreaterThan(before);
    c.close();
  } finally {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a large stdout or fs.data frame reaches the caller as its bytes arrive, before the frame is whole", async () => {
  const dir = mkdtempSync(join(tmpdir(), "client-pieces-"));
  const path = join(dir, "agent.sock");
  const data = randomBytes(256 * 1024);
  const stdout = encodeFrame(1, { type: "core.exec.stdout", payload: { data } });
  const fsData = encodeFrame(2, { type: "core.fs.data", payload: { data } });
  const half = stdout.length - data.length / 2;
  // A stand-in agent: for the exec, its started frame and half of a 256 KiB stdout frame; the
  // rest and the exit only when the test says; the same for a read's fs.data frame.
  let sock: { write(b: Uint8Array): number } | null = null;
  let requests = 0;
  const server = Bun.listen({
    unix: path,
    socket: {
      open: (s) => void ((sock = s), s.write(STAND_IN_READY)),
      data(s) {
        requests++;
        if (requests === 1) {
          s.write(encodeFrame(1, { type: "core.exec.started", payload: { pid: 7 } }));
          s.write(stdout.subarray(0, half));
        } else if (requests === 2) s.write(fsData.subarray(0, half));
      },
    },
  });
  try {
    const c = await AgentClient.connect(path);
    const h = c.exec("cat");
    const out = h.output[Symbol.asyncIterator]();
    // Half the frame's data is there though the frame is not whole: that much, and the right bytes.
    const first = await out.next();
    const got = [first.value!.data];
    while (got.reduce((n, b) => n + b.length, 0) < data.length / 2) got.push((await out.next()).value!.data);
    expect(Buffer.concat(got).equals(data.subarray(0, data.length / 2))).toBe(true);
    sock!.write(stdout.subarray(half));
    sock!.write(encodeFrame(1, { type: "core.exec.exited", payload: { code: 0 } }));
    for (let r = await out.next(); !r.done; r = await out.next()) got.push(r.value.data);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect((await h.exited).code).toBe(0);

    const reads = c.read("/f")[Symbol.asyncIterator]();
    const piece = (await reads.next()).value!;
    expect(piece.length).toBeGreaterThan(0);
    expect(Buffer.from(piece).equals(data.subarray(0, piece.length))).toBe(true);
    c.close();
  } finally {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});
