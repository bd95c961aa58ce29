/** Connections coming and going, the heartbeat, and shutdown in host mode. */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, text, type HostAgent } from "./harness.ts";
import { alive } from "../../src/host/process.ts";

let agent: HostAgent | null = null;
afterEach(async () => {
  await agent?.stop();
  agent = null;
});

test("core.ready arrives on every connection with consistent nanosecond times", async () => {
  agent = await startAgent();
  for (let i = 0; i < 3; i++) {
    const c = await agent.connect();
    const r = await c.ready;
    expect(BigInt(r.boot_time_ns) <= BigInt(r.ready_time_ns)).toBe(true);
    expect(BigInt(r.init_time_ns) <= BigInt(r.ready_time_ns)).toBe(true);
    expect(BigInt(r.ready_time_ns) > 0n).toBe(true);
    c.close();
    await c.closed();
  }
});

test("after a disconnect, the dropped sessions are killed and a new connection works", async () => {
  agent = await startAgent();
  const first = await agent.connect();
  // Durations no other test uses: pgrep below sees the whole machine.
  const h = first.exec("sh", ["-c", "sleep 313.7 & sleep 313.8; echo never"]);
  const pid = await h.started;
  await Bun.sleep(100);
  first.close();
  for (let i = 0; i < 100 && alive(pid); i++) await Bun.sleep(20);
  expect(alive(pid)).toBe(false);
  const second = await agent.connect();
  const r = await second.exec("sh", ["-c", "pgrep -f '^sleep 313\\.[78]$' || echo none"]).collect();
  expect(text(r.stdout)).toBe("none\n");
  second.close();
  expect(agent.log()).toContain("host disconnected; ended 1 session(s)");
});

test("a second client waits until the first leaves, then gets core.ready", async () => {
  agent = await startAgent();
  const first = await agent.connect();
  const { AgentClient } = await import("../../src/host/client.ts");
  const pending = AgentClient.connect(agent.socket, 5000);
  let connected = false;
  void pending.then(
    () => (connected = true),
    () => {},
  );
  await Bun.sleep(300);
  expect(connected).toBe(false);
  first.close();
  const second = await pending;
  expect((await second.exec("true").collect()).code).toBe(0);
  second.close();
});

test("the heartbeat is rewritten every second with sessions and last activity", async () => {
  agent = await startAgent();
  const file = join(agent.runtimeDir, "heartbeat.json");
  for (let i = 0; i < 100 && !existsSync(file); i++) await Bun.sleep(20);
  const c = await agent.connect();
  const h = c.exec("sleep", ["5"]);
  await h.started;
  const before = JSON.parse(readFileSync(file, "utf8"));
  const mtime = statSync(file).mtimeMs;
  await Bun.sleep(1300);
  const after = JSON.parse(readFileSync(file, "utf8"));
  expect(statSync(file).mtimeMs).toBeGreaterThan(mtime);
  expect(Object.keys(after)).toEqual(["timestamp", "active_sessions", "last_activity"]);
  expect(after.active_sessions).toBe(1);
  expect(Date.parse(after.timestamp)).toBeGreaterThan(Date.parse(before.timestamp));
  expect(readFileSync(file, "utf8")).toContain('\n  "timestamp": ');
  const activity = Date.parse(after.last_activity);
  await c.exec("true").collect();
  await Bun.sleep(1100);
  const later = JSON.parse(readFileSync(file, "utf8"));
  expect(Date.parse(later.last_activity)).toBeGreaterThan(activity);
  // The temporary file exists only between a beat's write and its rename (on the thread pool).
  const tmp = join(agent.runtimeDir, "heartbeat.tmp");
  for (let i = 0; i < 50 && existsSync(tmp); i++) await Bun.sleep(20);
  expect(existsSync(tmp)).toBe(false);
  h.signal(9);
  c.close();
});

test("a runtime directory that stops answering does not stop agentd (the beat is off the event loop)", async () => {
  // A FIFO without a reader in place of heartbeat.tmp: opening it for writing blocks, as a
  // write to a virtiofs share whose daemon hung would.
  const dir = mkdtempSync(join(tmpdir(), "agentd-test-"));
  mkdirSync(join(dir, "runtime"));
  expect(Bun.spawnSync(["mkfifo", join(dir, "runtime", "heartbeat.tmp")]).exitCode).toBe(0);
  agent = await startAgent({ dir });
  const c = await agent.connect();
  await Bun.sleep(2500); // two more beats come due while the first is still blocked
  const r = await c.exec("echo", ["still here"]).collect();
  expect(text(r.stdout)).toBe("still here\n");
  expect(existsSync(join(agent.runtimeDir, "heartbeat.json"))).toBe(false);
  c.close();
});

test("core.shutdown terminates the sessions (SIGKILL after the grace) and agentd exits 0", async () => {
  agent = await startAgent();
  const c = await agent.connect();
  const stubborn = c.exec("sh", ["-c", "trap '' TERM; sleep 100"]);
  const polite = c.exec("sleep", ["100"]);
  const [p1, p2] = [await stubborn.started, await polite.started];
  await Bun.sleep(100);
  await c.shutdown();
  expect(await agent.proc.exited).toBe(0);
  expect(await polite.exited).toEqual({ code: -1, signal: 15 });
  expect(alive(p1)).toBe(false);
  expect(alive(p2)).toBe(false);
});

test("SIGTERM to agentd in host mode shuts it down cleanly", async () => {
  agent = await startAgent();
  agent.proc.kill("SIGTERM");
  expect(await agent.proc.exited).toBe(0);
});
