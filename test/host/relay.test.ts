/**
 * The VM relay (src/host/vm/relay.ts) against a stand-in for QEMU's socket, with its data path in
 * the splice helper (dist/agentctl-splice) and, where that cannot run, in the relay itself: every
 * byte in order both ways, what QEMU sent before the hand-over first, a fresh QEMU connection
 * (with its own core.ready) for each client.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { SPLICE_HELPER } from "../../src/host/vm/relay.ts";
import { readFd, socketPair, writeFd } from "../../src/sys/fd-io.ts";
import { closeFd } from "../../src/sys/libc.ts";
import { processTicks, STAND_IN_READY as READY } from "../support.ts";
import { ROOT } from "./harness.ts";

const MiB = 1024 * 1024;

interface Rig {
  client: string;
  /** QEMU's side: each connection the relay made, in order. */
  upstreams: Socket[];
  stop(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.stop();
});

/** A stand-in QEMU that greets each connection with core.ready (and `extra`), and a relay. */
async function rig(helper: string, extra: Uint8Array = new Uint8Array(0)): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "relay-test-"));
  const port = join(dir, "port.sock");
  const client = join(dir, "agent.sock");
  const upstreams: Socket[] = [];
  const qemu: Server = createServer((s) => {
    upstreams.push(s);
    // After a client leaves, the relay opens its next QEMU connection at once, and the test may
    // kill the relay before it reads this greeting: EPIPE then is no failure of the test's (an
    // unhandled one was reported by bun as an error between tests in a loaded CI run).
    s.on("error", () => {});
    s.write(Buffer.concat([READY, extra]));
  });
  await new Promise<void>((r) => qemu.listen(port, r));
  // The relay watches a process it takes for QEMU and exits when it is gone.
  const standIn = Bun.spawn(["sleep", "600"]);
  const script = join(dir, "relay.ts");
  writeFileSync(
    script,
    `import { runRelay } from ${JSON.stringify(join(ROOT, "src/host/vm/relay.ts"))};\n` +
      `await runRelay(${JSON.stringify(client)}, ${JSON.stringify(port)}, ${standIn.pid}, null, ${JSON.stringify(helper)});\n`,
  );
  const relay: Subprocess = Bun.spawn([process.execPath, script], { stderr: "inherit" });
  for (let i = 0; i < 100 && upstreams.length === 0; i++) await Bun.sleep(50);
  const r: Rig = {
    client,
    upstreams,
    async stop() {
      standIn.kill();
      relay.kill();
      await relay.exited;
      qemu.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  rigs.push(r);
  return r;
}

/** Connects a client and collects what it receives. */
async function open(path: string) {
  const s = connect(path);
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  await new Promise<void>((r, j) => s.once("connect", r).once("error", j));
  return {
    s,
    received: () => Buffer.concat(chunks),
    async until(n: number) {
      for (let i = 0; i < 400 && Buffer.concat(chunks).length < n; i++) await Bun.sleep(25);
      return Buffer.concat(chunks);
    },
  };
}

async function receivedBy(s: Socket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  for (let i = 0; i < 400 && Buffer.concat(chunks).length < n; i++) await Bun.sleep(25);
  return Buffer.concat(chunks);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const pattern = (n: number, seed: number) =>
  Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

const modes = [
  { name: "through the splice helper", helper: SPLICE_HELPER },
  { name: "forwarding in the relay itself (no helper)", helper: "/nonexistent/agentctl-splice" },
];

for (const { name, helper } of modes) {
  describe(`relay ${name}`, () => {
    test("the client gets core.ready, then 8 MiB from QEMU in order, and QEMU 8 MiB from the client", async () => {
      const r = await rig(helper);
      const c = await open(r.client);
      expect((await c.until(READY.length)).subarray(0, READY.length)).toEqual(Buffer.from(READY));
      const up = r.upstreams[r.upstreams.length - 1]!;
      const down = pattern(8 * MiB, 7);
      const upward = pattern(8 * MiB, 11);
      const atQemu = receivedBy(up, upward.length);
      up.write(down);
      c.s.write(upward);
      const got = await c.until(READY.length + down.length);
      expect(got.length).toBe(READY.length + down.length);
      expect(sha(got.subarray(READY.length))).toBe(sha(down));
      expect(sha(await atQemu)).toBe(sha(upward));
      c.s.destroy();
    }, 30_000);

    test("what QEMU sent right after core.ready, before the hand-over, reaches the client first", async () => {
      const extra = Buffer.from("sent-before-the-client-came");
      const r = await rig(helper, extra);
      const c = await open(r.client);
      const up = r.upstreams[r.upstreams.length - 1]!;
      await c.until(READY.length + extra.length);
      up.write("after");
      const got = await c.until(READY.length + extra.length + 5);
      expect(got.subarray(READY.length).toString()).toBe("sent-before-the-client-cameafter");
      c.s.destroy();
    }, 30_000);

    test("a client that leaves ends its QEMU connection; the next client gets a fresh one with its own core.ready", async () => {
      const r = await rig(helper);
      const first = await open(r.client);
      await first.until(READY.length);
      const firstUp = r.upstreams[r.upstreams.length - 1]!;
      const closed = new Promise<void>((res) => firstUp.once("close", () => res()));
      first.s.destroy();
      await closed;
      const second = await open(r.client);
      expect((await second.until(READY.length)).subarray(0, READY.length)).toEqual(Buffer.from(READY));
      expect(r.upstreams.length).toBeGreaterThanOrEqual(2);
      const secondUp = r.upstreams[r.upstreams.length - 1]!;
      expect(secondUp).not.toBe(firstUp);
      const atQemu = receivedBy(secondUp, 4);
      second.s.write("ping");
      expect((await atQemu).toString()).toBe("ping");
      second.s.destroy();
    }, 30_000);

    test("a client that ends its side while not reading what QEMU streams: its QEMU connection ends within seconds", async () => {
      const r = await rig(helper);
      const c = await open(r.client);
      await c.until(READY.length);
      const up = r.upstreams[r.upstreams.length - 1]!;
      const upClosed = new Promise<number>((res) => up.once("close", () => res(performance.now())));
      // QEMU streams (a guest's command writing without end) and the client stops reading, as a
      // client does whose consumers hold too much unread output and that then leaves.
      c.s.pause();
      let streaming = true;
      const chunk = pattern(256 * 1024, 3);
      void (async () => {
        while (streaming && !up.destroyed)
          if (!up.write(chunk)) await new Promise((w) => up.once("drain", w).once("close", w));
      })();
      await Bun.sleep(500);
      const t0 = performance.now();
      c.s.end();
      const at = await Promise.race([upClosed, Bun.sleep(10_000).then(() => -1)]);
      streaming = false;
      c.s.destroy();
      // Before: the helper kept reading QEMU and waiting for the client to take it, for ever, and
      // the guest never heard that its host had left.
      expect(at).toBeGreaterThan(0);
      expect(at - t0).toBeLessThan(5000);
    }, 30_000);
  });
}

describe("the splice helper on its own", () => {
  test("QEMU's side hangs up while the client is not reading: the helper waits without spinning, then delivers every byte", async () => {
    const [client, clientPeer] = socketPair();
    const [upstream, upstreamPeer] = socketPair();
    const head = Buffer.alloc(4); // nothing read ahead for either side
    const helper = Bun.spawn([SPLICE_HELPER], { stdio: [head, "inherit", "inherit", client, upstream] });
    closeFd(client);
    closeFd(upstream);
    // Fill the helper's pipe toward the client (1 MiB) and the client's socket: QEMU's side
    // writes until nothing more is taken for a while.
    const sent: Buffer[] = [];
    const chunk = pattern(64 * 1024, 7);
    for (let idle = 0; idle < 20;) {
      const n = writeFd(upstreamPeer, chunk, "upstream stand-in");
      if (n > 0) {
        sent.push(chunk.subarray(0, n));
        idle = 0;
      } else {
        idle++;
        await Bun.sleep(25);
      }
    }
    expect(Buffer.concat(sent).length).toBeGreaterThan(MiB);
    closeFd(upstreamPeer); // QEMU gone, its last bytes still in the helper's pipe
    await Bun.sleep(200);
    const before = processTicks(helper.pid);
    await Bun.sleep(1000);
    // Spinning, it would take ~100 ticks of a core in this second.
    expect(processTicks(helper.pid) - before).toBeLessThan(5);
    // The client reads again: it gets all of it, in order, and the helper ends.
    const got: Buffer[] = [];
    const buf = new Uint8Array(256 * 1024);
    for (let i = 0; i < 2000; i++) {
      const n = readFd(clientPeer, buf, "client stand-in");
      if (n > 0) got.push(Buffer.from(buf.subarray(0, n)));
      else if (n === 0) break;
      else await Bun.sleep(5);
    }
    closeFd(clientPeer);
    expect(sha(Buffer.concat(got))).toBe(sha(Buffer.concat(sent)));
    expect(await helper.exited).toBe(0);
  });
});
