/** Every fs operation and its error cases against the compiled agentd in host mode. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { AgentClient } from "../../src/host/client.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { inMountNamespace, startAgent, type HostAgent } from "./harness.ts";
import { remoteError } from "../support.ts";

let agent: HostAgent;
let client: AgentClient;
let dir: string;

beforeAll(async () => {
  agent = await startAgent();
  client = await agent.connect();
  dir = join(agent.dir, "files");
  mkdirSync(dir);
});
afterAll(async () => {
  client.close();
  await agent.stop();
});

describe("Stat", () => {
  test("reports a file with full st_mode, size and mtime, echoing the path as given", async () => {
    const p = join(dir, "stat.txt");
    writeFileSync(p, "12345");
    chmodSync(p, 0o640);
    const e = await client.stat(p);
    expect(e).toEqual({
      path: p,
      kind: "file",
      size: 5,
      mode: 0o100640,
      modified: Math.floor(statSync(p).mtimeMs / 1000),
    });
  });
  test("uses lstat: a symlink is a symlink", async () => {
    const l = join(dir, "link");
    symlinkSync("/etc", l);
    expect((await client.stat(l)).kind).toBe("symlink");
    expect((await client.stat(dir)).kind).toBe("dir");
    expect((await client.stat("/dev/null")).kind).toBe("other");
  });
  test("a missing path is a 'stat:' error", async () => {
    expect(await remoteError(client.stat(join(dir, "missing")))).toBe(
      "stat: No such file or directory (os error 2)",
    );
  });
});

describe("List", () => {
  test("gives full joined paths without . and ..", async () => {
    const d = join(dir, "list");
    mkdirSync(d);
    writeFileSync(join(d, "a"), "x");
    mkdirSync(join(d, "b"));
    const entries = await client.list(d);
    expect(entries.map((e) => e.path).sort()).toEqual([join(d, "a"), join(d, "b")]);
    expect(entries.find((e) => e.path.endsWith("/b"))!.kind).toBe("dir");
  });
  test("a trailing slash does not double the separator", async () => {
    const d = join(dir, "list");
    expect((await client.list(d + "/")).map((e) => e.path).sort()).toEqual([join(d, "a"), join(d, "b")]);
  });
  test("a missing directory is an 'opendir:' error; a file too", async () => {
    expect(await remoteError(client.list(join(dir, "nope")))).toMatch(/^opendir: No such file or directory/);
    expect(await remoteError(client.list("/etc/passwd"))).toMatch(/^opendir: Not a directory/);
  });
});

describe("Read", () => {
  test("streams a file in chunks of at most 3 MiB", async () => {
    const p = join(dir, "seven-mib");
    const content = new Uint8Array(7 * 1024 * 1024 + 5).map((_, i) => i % 251);
    writeFileSync(p, content);
    const sizes: number[] = [];
    const parts: Uint8Array[] = [];
    for await (const c of client.read(p)) {
      sizes.push(c.length);
      parts.push(c);
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3 * 1024 * 1024);
    expect(Buffer.concat(parts).equals(Buffer.from(content))).toBe(true);
  });
  test("an empty file gives no data and ok", async () => {
    writeFileSync(join(dir, "empty"), "");
    expect((await client.readFile(join(dir, "empty"))).length).toBe(0);
  });
  test("a missing file is 'open:', a directory is 'read:'", async () => {
    expect(await remoteError(client.readFile(join(dir, "nope")))).toMatch(/^open: No such file or directory/);
    expect(await remoteError(client.readFile(dir))).toMatch(/^read: Is a directory/);
  });
});

describe("Write", () => {
  test("creates missing parents and the file with the default mode", async () => {
    const p = join(dir, "w/a/b/new.txt");
    await client.writeFile(p, "hello");
    expect(readFileSync(p, "utf8")).toBe("hello");
    expect(statSync(p).mode & 0o777).toBe(0o644);
  });
  test("mode given sets the permissions", async () => {
    const p = join(dir, "w/mode.sh");
    await client.writeFile(p, "#!/bin/sh\n", 0o750);
    expect(statSync(p).mode & 0o7777).toBe(0o750);
  });
  test("an existing file keeps its mode and owner, and is replaced atomically (new inode, no temp left)", async () => {
    const p = join(dir, "w/keep.txt");
    writeFileSync(p, "old content that is longer");
    chmodSync(p, 0o604);
    chownSync(p, 1234, 5678);
    const inode = statSync(p).ino;
    await client.writeFile(p, "new");
    const s = statSync(p);
    expect(readFileSync(p, "utf8")).toBe("new");
    expect(s.mode & 0o7777).toBe(0o604);
    expect([s.uid, s.gid]).toEqual([1234, 5678]);
    expect(s.ino).not.toBe(inode);
    expect(readdirSync(join(dir, "w")).filter((n) => n.includes("agentd-partial"))).toEqual([]);
  });
  test("writing through a symlink replaces the target, not the link", async () => {
    const target = join(dir, "w/target.txt");
    const link = join(dir, "w/link.txt");
    writeFileSync(target, "before");
    symlinkSync(target, link);
    await client.writeFile(link, "after");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toBe("after");
  });
  test("a parent that is a file is a 'mkdir parent:' error", async () => {
    writeFileSync(join(dir, "w/plainfile"), "");
    expect(await remoteError(client.writeFile(join(dir, "w/plainfile/x"), "x"))).toMatch(/^mkdir parent: /);
  });
  test("a directory as target is an 'open for write:' error, and later chunks get 'unknown write session'", async () => {
    const id = client.allocateId();
    const responses: string[] = [];
    const target = join(dir, "w");
    await client.send(id, {
      type: "core.fs.request",
      payload: { op: { op: "Write", path: target, mode: null } },
    });
    await client.send(id, { type: "core.fs.data", payload: { data: new Uint8Array([1]) } });
    await Bun.sleep(200);
    await client.send(id, { type: "core.fs.data", payload: { data: new Uint8Array([2]) } });
    await client.send(id, { type: "core.fs.data", payload: { data: new Uint8Array(0) } });
    await Bun.sleep(200);
    for (const f of client.unrouted)
      if (f.id === id && f.type === "core.fs.response") responses.push(f.payload.error ?? "");
    expect(responses[0]).toMatch(/^open for write: Is a directory/);
    expect(responses.slice(1)).toEqual(Array(responses.length - 1).fill(`unknown write session: ${id}`));
    expect(responses.length).toBeGreaterThanOrEqual(3);
  });
  test("fs.data for an id with no write gets an error response", async () => {
    const id = client.allocateId();
    await client.sendRaw(encodeFrame(id, { type: "core.fs.data", payload: { data: new Uint8Array([1]) } }));
    await Bun.sleep(100);
    const r = client.unrouted.find((f) => f.id === id);
    expect(r?.type === "core.fs.response" && r.payload).toEqual({
      ok: false,
      error: `unknown write session: ${id}`,
      data: null,
    });
  });
  test("a 10 MiB upload in many chunks arrives whole", async () => {
    const p = join(dir, "w/big.bin");
    const chunks = Array.from({ length: 10 }, (_, i) => new Uint8Array(1 << 20).fill(i + 1));
    async function* gen() {
      yield* chunks;
    }
    await client.writeFile(p, gen());
    expect(Buffer.from(readFileSync(p)).equals(Buffer.concat(chunks))).toBe(true);
  });
});

describe("Mkdir, Remove, RemoveDir, Copy, Rename", () => {
  test("Mkdir creates parents and succeeds on an existing directory", async () => {
    await client.mkdir(join(dir, "m/a/b"));
    await client.mkdir(join(dir, "m/a/b"));
    expect(statSync(join(dir, "m/a/b")).isDirectory()).toBe(true);
  });
  test("Mkdir over a file is a 'mkdir:' error", async () => {
    writeFileSync(join(dir, "m/file"), "");
    expect(await remoteError(client.mkdir(join(dir, "m/file")))).toMatch(/^mkdir: File exists/);
  });
  test("Remove deletes a file; a missing one or a directory is a 'remove:' error", async () => {
    writeFileSync(join(dir, "m/gone"), "");
    await client.remove(join(dir, "m/gone"));
    expect(existsSync(join(dir, "m/gone"))).toBe(false);
    expect(await remoteError(client.remove(join(dir, "m/gone")))).toMatch(/^remove: No such file/);
    expect(await remoteError(client.remove(join(dir, "m/a")))).toMatch(/^remove: /);
  });
  test("RemoveDir is recursive; a missing path or a file is a 'remove_dir:' error", async () => {
    writeFileSync(join(dir, "m/a/b/deep"), "");
    await client.removeDir(join(dir, "m/a"));
    expect(existsSync(join(dir, "m/a"))).toBe(false);
    expect(await remoteError(client.removeDir(join(dir, "m/a")))).toMatch(/^remove_dir: No such file/);
    expect(await remoteError(client.removeDir(join(dir, "m/file")))).toMatch(/^remove_dir: Not a directory/);
  });
  test("Copy copies a file (content and mode) into missing parents", async () => {
    const src = join(dir, "c-src");
    writeFileSync(src, "copy me");
    chmodSync(src, 0o751);
    await client.copy(src, join(dir, "c/x/y/dst"));
    expect(readFileSync(join(dir, "c/x/y/dst"), "utf8")).toBe("copy me");
    expect(statSync(join(dir, "c/x/y/dst")).mode & 0o777).toBe(0o751);
  });
  test("Copy of a directory copies it recursively", async () => {
    mkdirSync(join(dir, "ctree/sub"), { recursive: true });
    writeFileSync(join(dir, "ctree/sub/f"), "deep");
    await client.copy(join(dir, "ctree"), join(dir, "ctree2"));
    expect(readFileSync(join(dir, "ctree2/sub/f"), "utf8")).toBe("deep");
  });
  test("Copy of a missing source is a 'copy:' error", async () => {
    expect(await remoteError(client.copy(join(dir, "nope"), join(dir, "x")))).toMatch(/^copy: No such file/);
  });
  test("Rename moves into missing parents; a missing source is a 'rename:' error", async () => {
    writeFileSync(join(dir, "r-src"), "move");
    await client.rename(join(dir, "r-src"), join(dir, "r/n/dst"));
    expect(readFileSync(join(dir, "r/n/dst"), "utf8")).toBe("move");
    expect(existsSync(join(dir, "r-src"))).toBe(false);
    expect(await remoteError(client.rename(join(dir, "r-src"), join(dir, "r/x")))).toMatch(
      /^rename: No such file/,
    );
  });
});

describe("Write onto a bind-mounted file (rename cannot replace a mount point)", () => {
  test("falls back to an in-place write with fsync and the content arrives", async () => {
    const { mkdtempSync: mk, writeFileSync: wf, readFileSync: rf } = await import("node:fs");
    const { tmpdir: td } = await import("node:os");
    const base = mk(join(td(), "agentd-bind-"));
    const source = join(base, "source.txt");
    const target = join(base, "target.txt");
    wf(source, "original\n");
    wf(target, "");
    // agentd runs in its own mount namespace where target.txt is a bind mount of source.txt.
    const bound = await startAgent({ wrap: inMountNamespace(`mount --bind "${source}" "${target}"`) });
    try {
      const c = await bound.connect();
      await c.writeFile(target, "replaced through the bind mount\n");
      expect(rf(source, "utf8")).toBe("replaced through the bind mount\n");
      const inside = await c
        .exec("sh", ["-c", `grep -c " ${target} " /proc/self/mountinfo; cat "${target}"`])
        .collect();
      expect(Buffer.from(inside.stdout).toString()).toBe("1\nreplaced through the bind mount\n");
      expect(readdirSync(base).filter((n) => n.includes("agentd-partial"))).toEqual([]);
      c.close();
    } finally {
      await bound.stop();
      rmSync(base, { recursive: true, force: true });
    }
  });
});

test("a List whose answer would be a frame over the largest gets a readdir error naming the count; the connection goes on", async () => {
  const big = join(dir, "many-entries");
  mkdirSync(big);
  // ~330 bytes of CBOR per entry (its full path and fields): 14 000 entries make ~4.6 MB.
  const stem = "n".repeat(230);
  for (let i = 0; i < 14_000; i++) writeFileSync(join(big, `${stem}-${i}`), "");
  const e = await client.list(big).catch((e) => e);
  expect(e.remote).toBe(
    "readdir: 14000 entries would be a frame over the protocol's largest (4194304 bytes)",
  );
  expect(e.prefix).toBe("readdir");
  expect(agent.log()).toMatch(
    /core\.fs\.response for \d+ would be a frame of \d+ bytes, over 4194304: not sent/,
  );
  rmSync(big, { recursive: true, force: true });
  expect((await client.list(dir)).length).toBeGreaterThan(0);
}, 60_000);
