/**
 * The relay between host clients (DIR/agent.sock) and QEMU's socket for the port `agent`
 * (DIR/port.sock).
 *
 * Why it exists: the guest learns that a host connected or left only by sampling the port's
 * state (POLLHUP). When one client leaves and the next connects at once, QEMU sends "closed"
 * and "open" back to back and the guest can see neither, so it never sends the new client its
 * core.ready. The relay makes each client's connection unmistakable: it opens a fresh QEMU
 * connection, waits for agentd's core.ready on it (retrying with a longer pause between close
 * and reopen until the guest has seen the gap), and only then hands that connection, ready frame
 * first, to the next client. When a client leaves, its QEMU connection is closed, so the guest
 * ends that client's sessions as the protocol says.
 *
 * One client is served at a time; others wait in order. The relay exits when QEMU is gone.
 */
import type { Subprocess } from "bun";
import { createServer, connect, type Socket } from "node:net";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_FRAME_SIZE } from "../../protocol/constants.ts";
import { decodeBody } from "../../protocol/frame.ts";
import { alive } from "../process.ts";
import { DIST_DIR } from "../paths.ts";
import { dupFd } from "../../sys/fd-io.ts";
import { closeFd } from "../../sys/libc.ts";

/** The splice loop that carries a client's bytes once it has its connection (relay-splice.c). */
export const SPLICE_HELPER = join(DIST_DIR, "agentctl-splice");

/** First wait for core.ready on a fresh QEMU connection after a client left; doubles after each miss. */
const FIRST_READY_WAIT_MS = 500;
/**
 * Until the guest's first core.ready, each QEMU connection waits BOOT_READY_WAIT_MS and the next
 * follows BOOT_GAP_MS later. A connection made while the guest boots gets core.ready as soon as
 * agentd's port reader first samples the port (it takes a connected host for one without waiting
 * for an event), so the first connection, made when QEMU starts, is normally the one; the next
 * ones are a fallback. (Before agentd sampled, such a connection got no core.ready at all, and
 * the relay tried a fresh one every 0.4 s: the guest's first answer came up to 0.4 s late.)
 * A guest not ready after BOOT_FAST_MS gets the doubling waits (it may just be very slow).
 * The first wait is long: a boot under TCG takes 3-4 s from QEMU's start to core.ready here, and
 * more on a loaded host; giving up on a connection the guest is about to answer costs a second
 * connection (a CI run's lifecycle test saw one at 5 s).
 */
const BOOT_READY_WAIT_MS = 15_000;
const BOOT_GAP_MS = 100;
const BOOT_FAST_MS = 30_000;
const MAX_READY_WAIT_MS = 8000;

interface Prepared {
  upstream: Socket;
  /** Bytes received so far, from the ready frame on. */
  pending: Buffer[];
}

/** Offset of the first core.ready frame in `buf`, or -1 (whole frames only). */
export function findReady(buf: Buffer): number {
  let at = 0;
  while (at + 9 <= buf.length) {
    const len = buf.readUInt32BE(at);
    if (len < 5 || len > MAX_FRAME_SIZE) return -1;
    if (at + 4 + len > buf.length) return -1;
    const ev = decodeBody(buf.readUInt32BE(at + 4), buf[at + 8]!, buf.subarray(at + 9, at + 4 + len));
    if (ev.kind === "frame" && ev.frame.type === "core.ready") return at;
    at += 4 + len;
  }
  return -1;
}

/**
 * Opens a QEMU connection and resolves once agentd's core.ready has come through it, or with
 * null when it does not within `waitMs` or the connection ends.
 */
function openUpstream(portSocket: string, waitMs: number): Promise<Prepared | null> {
  return new Promise((resolve) => {
    const upstream = connect(portSocket);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (r: Prepared | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      upstream.removeAllListeners("data");
      if (r === null) upstream.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(null), waitMs);
    upstream.on("error", () => finish(null));
    upstream.on("close", () => finish(null));
    upstream.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const at = findReady(buf);
      if (at >= 0) {
        // The ready frame and whatever followed it go to the client; anything before is stale.
        upstream.pause();
        finish({ upstream, pending: [buf.subarray(at)] });
      }
    });
  });
}

/**
 * Serves `clientSocket` until QEMU exits. `readyFile`, when given, is created once the guest's
 * first core.ready has come (the launcher waits for it), so that the first client gets the
 * connection the ready came on instead of a check taking it and costing the next client a
 * reconnect.
 */
export async function runRelay(
  clientSocket: string,
  portSocket: string,
  qemuPid: number,
  readyFile: string | null = null,
  spliceHelper: string = SPLICE_HELPER,
): Promise<void> {
  rmSync(clientSocket, { force: true });
  const startedAt = Date.now();
  let everReady = false;
  const waiting: Socket[] = [];
  let active: Socket | null = null;
  let prepared: Prepared | null = null;
  let preparing: Promise<void> | null = null;

  const prepareOnce = async (): Promise<void> => {
    let wait = FIRST_READY_WAIT_MS;
    while (!prepared) {
      if (!alive(qemuPid)) process.exit(0);
      const booting = !everReady && Date.now() - startedAt < BOOT_FAST_MS;
      prepared = await openUpstream(portSocket, booting ? BOOT_READY_WAIT_MS : wait);
      if (!prepared && booting) await Bun.sleep(BOOT_GAP_MS);
      else if (!prepared) {
        // The guest may not have seen the last close: leave a gap it cannot miss.
        await Bun.sleep(Math.min(wait / 2, 1000));
        wait = Math.min(wait * 2, MAX_READY_WAIT_MS);
      }
    }
    if (!everReady) {
      everReady = true;
      if (readyFile) writeFileSync(readyFile, `${Date.now()}\n`);
    }
  };
  /** Resolves when a QEMU connection with agentd's core.ready is waiting in `prepared`. */
  const prepare = (): Promise<void> => {
    if (prepared) return Promise.resolve();
    preparing ??= prepareOnce().finally(() => (preparing = null));
    return preparing;
  };

  let dispatching = false;
  /** Hands a prepared QEMU connection to the next waiting client; one dispatcher at a time. */
  const serveNext = async (): Promise<void> => {
    if (dispatching) return;
    dispatching = true;
    try {
      while (!active && waiting.length > 0) {
        await prepare();
        const client = waiting.shift()!;
        if (client.destroyed) continue;
        handOver(client, prepared!);
        prepared = null;
      }
    } finally {
      dispatching = false;
    }
  };

  const handOver = (client: Socket, prepared: Prepared) => {
    active = client;
    const next = () => {
      if (active !== client) return;
      active = null;
      void prepare().then(serveNext);
    };
    // The kernel moves the bytes when the splice helper can run; else this process does.
    const helper = spliceBetween(client, prepared, spliceHelper);
    if (helper) {
      void helper.exited.then(next);
      return;
    }
    const { upstream } = prepared;
    const end = () => {
      if (active !== client) return;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.destroy();
      upstream.destroy();
      next();
    };
    client.on("close", end);
    client.on("error", end);
    upstream.on("close", end);
    upstream.on("error", end);
    // The client ended its side: it has left, and both connections end now (the guest hears it).
    // Waiting to hand it what is still queued, a client that no longer reads held both for ever
    // (the splice helper gives it relay-splice.c's CLIENT_GONE_WAIT_MS).
    client.once("end", end);
    pipeBetween(client, prepared);
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    waiting.push(client);
    client.on("close", () => {
      const i = waiting.indexOf(client);
      if (i >= 0) waiting.splice(i, 1);
    });
    void serveNext();
  });
  server.listen(clientSocket);
  void prepare();
  setInterval(() => {
    if (!alive(qemuPid)) {
      server.close();
      rmSync(clientSocket, { force: true });
      process.exit(0);
    }
  }, 500);
}

/** Forwards in this process, through node:net's streams: where the splice helper cannot run. */
function pipeBetween(client: Socket, { upstream, pending }: Prepared): void {
  for (const p of pending) client.write(p);
  client.pipe(upstream);
  upstream.pipe(client);
  upstream.resume();
  client.resume();
}

/** Bytes a paused socket has already read and holds (a stream reads ahead of its consumer). */
function takeBuffered(s: Socket): Buffer[] {
  const out: Buffer[] = [];
  for (let b: Buffer | null; (b = s.read() as Buffer | null) !== null;) out.push(b);
  return out;
}

/**
 * Hands both connections to the splice helper (relay-splice.c): the kernel moves the bytes, so
 * neither JavaScript nor this process's memory is in the way (measured in the guest: stdout and
 * fs read 20-28% faster, the relay's CPU a third). The helper gets its own descriptors (dup) and
 * this process lets go of the sockets, having taken out what their streams had already read
 * ahead, so no byte is read here once the helper runs. Null when the helper is not there or
 * cannot start, or the descriptors are not known; the sockets are then untouched.
 */
function spliceBetween(
  client: Socket,
  { upstream, pending }: Prepared,
  helperPath: string,
): Subprocess | null {
  const fdOf = (s: Socket) => (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  const clientFd = fdOf(client);
  const upstreamFd = fdOf(upstream);
  if (typeof clientFd !== "number" || typeof upstreamFd !== "number" || !existsSync(helperPath)) return null;
  // What the streams had read ahead goes first, each to the other side, before any new byte.
  const fromUpstream = takeBuffered(upstream);
  const fromClient = takeBuffered(client);
  const fds: number[] = [];
  let helper: Subprocess | null = null;
  try {
    fds.push(dupFd(clientFd, "relay client"));
    fds.push(dupFd(upstreamFd, "relay upstream"));
    const toClient = Buffer.concat([...pending, ...fromUpstream]);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(toClient.length);
    helper = Bun.spawn([helperPath], {
      // fd 0: a 32-bit length, that many bytes for the client first (the core.ready frame and
      // anything after it), then the rest for QEMU first.
      stdio: [Buffer.concat([head, toClient, ...fromClient]), "inherit", "inherit", fds[0]!, fds[1]!],
    });
  } catch (e) {
    process.stderr.write(`relay: cannot hand over to ${helperPath}: ${(e as Error).message}\n`);
  } finally {
    for (const fd of fds) closeFd(fd);
  }
  if (!helper) {
    // Back where they were, for this process's own forwarding.
    for (const b of fromUpstream.reverse()) upstream.unshift(b);
    for (const b of fromClient.reverse()) client.unshift(b);
    return null;
  }
  for (const s of [client, upstream]) {
    s.removeAllListeners();
    s.on("error", () => {});
    s.destroy();
  }
  return helper;
}
