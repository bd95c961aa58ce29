/**
 * Faults around uploads: a host that disconnects mid-upload and an agentd killed mid-write each
 * leave the target with its old content, never a mix; temp files of unfinished uploads are gone
 * (at once on disconnect, at the next start after a kill).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAgent } from "./harness.ts";

const partials = (dir: string) => readdirSync(dir).filter((n) => n.includes("agentd-partial"));

async function startUpload(agent: Awaited<ReturnType<typeof startAgent>>, target: string) {
  const c = await agent.connect();
  const id = c.allocateId();
  await c.send(id, { type: "core.fs.request", payload: { op: { op: "Write", path: target, mode: null } } });
  for (let i = 0; i < 8; i++)
    await c.send(id, { type: "core.fs.data", payload: { data: new Uint8Array(1 << 20).fill(0x4e) } });
  // The chunks have reached the temp file once it has grown; the upload never ends.
  for (let i = 0; i < 200 && !partials(join(agent.dir, "files")).length; i++) await Bun.sleep(10);
  await Bun.sleep(300);
  return c;
}

test("a host disconnecting mid-upload leaves the old content and no temp file", async () => {
  const agent = await startAgent();
  const files = join(agent.dir, "files");
  Bun.spawnSync(["mkdir", "-p", files]);
  const target = join(files, "data.bin");
  writeFileSync(target, "old content\n");
  const c = await startUpload(agent, target);
  expect(partials(files).length).toBe(1);
  c.close();
  await c.closed();
  for (let i = 0; i < 100 && partials(files).length; i++) await Bun.sleep(20);
  expect(partials(files)).toEqual([]);
  expect(readFileSync(target, "utf8")).toBe("old content\n");
  await agent.stop();
});

test("agentd killed with SIGKILL mid-write: the old content stays, and the temp file is removed at the next start", async () => {
  const agent = await startAgent();
  const files = join(agent.dir, "files");
  Bun.spawnSync(["mkdir", "-p", files]);
  const target = join(files, "data.bin");
  writeFileSync(target, "old content\n");
  await startUpload(agent, target);
  await agent.stop(true);
  expect(readFileSync(target, "utf8")).toBe("old content\n");
  expect(partials(files).length).toBe(1);
  const again = await startAgent({ dir: agent.dir });
  expect(partials(files)).toEqual([]);
  expect(again.log()).toContain("removed the temp file of an unfinished upload");
  const c = await again.connect();
  await c.writeFile(target, "new content\n");
  expect(readFileSync(target, "utf8")).toBe("new content\n");
  c.close();
  await again.stop();
});
