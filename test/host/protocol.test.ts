/**
 * Nothing on the wire ends agentd: every kind of bad input is logged with its id (and answered
 * where the protocol has an answer), and the same connection then runs an exec.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { AgentClient } from "../../src/host/client.ts";
import { encodeCbor } from "../../src/protocol/cbor-encode.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { startAgent, text, type HostAgent } from "./harness.ts";

let agent: HostAgent;
let client: AgentClient;

beforeAll(async () => {
  agent = await startAgent();
  client = await agent.connect();
});
afterAll(async () => {
  client.close();
  await agent.stop();
});

function rawFrame(id: number, body: Uint8Array, declaredLen = body.length + 5): Uint8Array {
  const out = new Uint8Array(9 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, declaredLen);
  v.setUint32(4, id);
  out.set(body, 9);
  return out;
}

const envelope = (t: string, p: Uint8Array) => encodeCbor({ v: 1, t, p });

async function execWorks(): Promise<void> {
  const r = await client.exec("echo", ["still alive"]).collect();
  expect(text(r.stdout)).toBe("still alive\n");
  expect(r.code).toBe(0);
}

test("a frame longer than 4 MiB is skipped by its length", async () => {
  const len = 4 * 1024 * 1024 + 100;
  const header = new Uint8Array(8);
  new DataView(header.buffer).setUint32(0, len);
  new DataView(header.buffer).setUint32(4, 9001);
  await client.sendRaw(header);
  for (let left = len - 4; left > 0; left -= 1 << 20)
    await client.sendRaw(new Uint8Array(Math.min(left, 1 << 20)).fill(0xff));
  await execWorks();
  expect(agent.log()).toMatch(/id 9001: AGENTD_ERR_FRAME_TOO_LARGE/);
});

test("a frame shorter than the header is skipped", async () => {
  await client.sendRaw(Uint8Array.of(0, 0, 0, 3, 1, 2, 3));
  await execWorks();
  expect(agent.log()).toMatch(/AGENTD_ERR_FRAME_TOO_SHORT/);
});

test("bad CBOR is skipped and logged with its id", async () => {
  await client.sendRaw(rawFrame(9002, Uint8Array.of(0xa3, 0xff, 0x00)));
  await execWorks();
  expect(agent.log()).toMatch(/id 9002: AGENTD_ERR_BAD_ENVELOPE/);
});

test("an unknown type is skipped and logged with its id", async () => {
  await client.sendRaw(rawFrame(9003, envelope("core.teleport", new Uint8Array(0))));
  await execWorks();
  expect(agent.log()).toMatch(/id 9003: AGENTD_ERR_UNKNOWN_TYPE: unknown message type "core.teleport"/);
});

test("a bad exec request gets a stderr line naming the problem and exited -1", async () => {
  const id = 9004;
  await client.sendRaw(rawFrame(id, envelope("core.exec.request", encodeCbor({ cmd: 42 })), undefined));
  await Bun.sleep(100);
  const frames = client.unrouted.filter((f) => f.id === id);
  expect(frames.map((f) => f.type)).toEqual(["core.exec.stderr", "core.exec.exited"]);
  const [stderr, exited] = frames;
  expect(stderr?.type === "core.exec.stderr" && text(stderr.payload.data)).toBe(
    "agentd: invalid exec request: cmd: expected text, got 42\n",
  );
  expect(exited?.type === "core.exec.exited" && exited.payload).toEqual({ code: -1 });
  expect(exited?.flags).toBe(1);
  await execWorks();
});

test("a bad fs request gets an 'invalid request:' fs.response", async () => {
  const id = 9005;
  await client.sendRaw(
    rawFrame(id, envelope("core.fs.request", encodeCbor({ op: { Explode: { path: "/" } } }))),
  );
  await Bun.sleep(100);
  const r = client.unrouted.find((f) => f.id === id);
  expect(r?.type === "core.fs.response" && r.payload.error).toBe(
    'invalid request: op: unknown variant "Explode"',
  );
  await execWorks();
});

test("a bad payload for another type is logged and dropped", async () => {
  await client.sendRaw(rawFrame(9006, envelope("core.exec.signal", encodeCbor({ signal: "TERM" }))));
  await execWorks();
  expect(agent.log()).toMatch(/id 9006: AGENTD_ERR_BAD_PAYLOAD: signal: expected i32/);
});

test("a guest-only type from the host is dropped", async () => {
  await client.send(9007, { type: "core.exec.started", payload: { pid: 1 } });
  await execWorks();
  expect(agent.log()).toMatch(/id 9007: core.exec.started is sent by the guest/);
});

test("stdin, resize and signal for an unknown id are ignored", async () => {
  await client.send(9008, { type: "core.exec.stdin", payload: { data: Uint8Array.of(1) } });
  await client.send(9008, { type: "core.exec.resize", payload: { rows: 1, cols: 1 } });
  await client.send(9008, { type: "core.exec.signal", payload: { signal: 9 } });
  await execWorks();
});

test("a request reusing the id of a live session is ignored (ours)", async () => {
  const h = client.exec("sleep", ["0.3"]);
  await h.started;
  await client.send(h.id, { type: "core.exec.request", payload: { cmd: "echo", args: ["dup"] } });
  const r = await h.collect();
  expect(text(r.stdout)).toBe("");
  expect(r.code).toBe(0);
  expect(agent.log()).toMatch(new RegExp(`id ${h.id}: core.exec.request reuses the id of a live session`));
});

test("random garbage followed by a resync-free connection still leaves agentd running", async () => {
  // Garbage that declares a small length is consumed as frames; the agent stays up and a new
  // connection works (the old framing may be lost, as with any byte stream corruption).
  const garbage = new Uint8Array(4096).map((_, i) => (i * 7919) & 0xff);
  await client.sendRaw(garbage);
  client.close();
  client = await agent.connect();
  await execWorks();
  expect(agent.proc.exitCode).toBeNull();
});

test("every frame agentd sends carries the flags the protocol gives its type", async () => {
  const id = client.allocateId();
  await client.send(id, { type: "core.fs.request", payload: { op: { op: "Stat", path: "/" } } });
  const h = client.exec("true");
  await h.collect();
  await Bun.sleep(50);
  const r = client.unrouted.find((f) => f.id === id);
  expect(r?.flags).toBe(1);
  const frame = encodeFrame(1, { type: "core.exec.started", payload: { pid: 1 } });
  expect(frame[8]).toBe(0);
});
