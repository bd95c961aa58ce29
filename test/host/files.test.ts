/**
 * src/sys/files.ts against the real filesystem, checked with node:fs: what agentd's start and
 * setup use instead of node:fs (which it loads only when a request needs it).
 */
import { afterAll, expect, test } from "bun:test";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  appendText,
  chmod,
  copyFile,
  exists,
  existsNoFollow,
  fileMode,
  fileVersion,
  isDirectory,
  listDir,
  makeDirs,
  readBytes,
  readText,
  symlink,
  touch,
  unlink,
  writeText,
} from "../../src/sys/files.ts";
import { SysError } from "../../src/sys/libc.ts";

const dir = mkdtempSync(join(tmpdir(), "agentd-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("readText reads /proc files (size 0 to stat) and files larger than one read", () => {
  expect(readText("/proc/self/mountinfo")).toContain(" / ");
  expect(readText("/proc/self/status")).toContain(`Pid:\t${process.pid}\n`);
  const big = join(dir, "big");
  const text = "ünïcode line\n".repeat(20_000); // > 256 KiB: several 64 KiB reads
  writeFileSync(big, text);
  expect(readText(big)).toBe(text);
  expect(readBytes(big)).toEqual(new Uint8Array(readFileSync(big)));
  writeFileSync(join(dir, "empty"), "");
  expect(readText(join(dir, "empty"))).toBe("");
});

test("a missing file is a SysError naming the call, the path and the errno", () => {
  const missing = join(dir, "no", "such");
  let err: unknown;
  try {
    readText(missing);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SysError);
  expect((err as SysError).errno).toBe(2);
  expect((err as Error).message).toBe(`open(${missing}): ENOENT: No such file or directory`);
});

test("writeText creates with the mode (less the umask) and truncates; appendText and touch add", () => {
  const f = join(dir, "w");
  writeText(f, "a much longer first content\n", 0o640);
  expect(statSync(f).mode & 0o777).toBe(0o640 & ~process.umask());
  writeText(f, "short\n");
  expect(readFileSync(f, "utf8")).toBe("short\n");
  appendText(f, "more\n");
  expect(readFileSync(f, "utf8")).toBe("short\nmore\n");
  touch(f);
  expect(readFileSync(f, "utf8")).toBe("short\nmore\n");
  const t = join(dir, "touched");
  touch(t);
  expect(readFileSync(t, "utf8")).toBe("");
  appendText(join(dir, "appended"), "x");
  expect(readFileSync(join(dir, "appended"), "utf8")).toBe("x");
  writeText(join(dir, "bytes"), Uint8Array.of(0, 255, 10));
  expect([...readFileSync(join(dir, "bytes"))]).toEqual([0, 255, 10]);
  copyFile(join(dir, "bytes"), join(dir, "copy"));
  expect([...readFileSync(join(dir, "copy"))]).toEqual([0, 255, 10]);
});

test("makeDirs makes missing parents, accepts an existing directory, refuses a file", () => {
  const deep = join(dir, "m", "a", "b", "c");
  makeDirs(deep);
  expect(statSync(deep).isDirectory()).toBe(true);
  makeDirs(deep);
  makeDirs(join(dir, "m") + "/");
  writeFileSync(join(dir, "m", "file"), "");
  expect(() => makeDirs(join(dir, "m", "file"))).toThrow(`mkdir(${join(dir, "m", "file")}): EEXIST`);
  expect(() => makeDirs(join(dir, "m", "file", "below"))).toThrow("ENOTDIR");
});

test("exists follows symlinks, existsNoFollow sees the link itself, isDirectory follows too", () => {
  const target = join(dir, "target-dir");
  mkdirSync(target);
  symlinkSync(target, join(dir, "to-dir"));
  symlink(join(dir, "nowhere"), join(dir, "dangling"));
  expect(exists(target)).toBe(true);
  expect(isDirectory(join(dir, "to-dir"))).toBe(true);
  expect(exists(join(dir, "dangling"))).toBe(false);
  expect(existsNoFollow(join(dir, "dangling"))).toBe(true);
  expect(existsNoFollow(join(dir, "nowhere"))).toBe(false);
  expect(isDirectory(join(dir, "big"))).toBe(false);
  expect(exists(join(dir, "big", "below-a-file"))).toBe(false);
  expect(fileMode(join(dir, "dangling"), true)! & 0o170000).toBe(0o120000);
});

test("chmod and unlink", () => {
  const f = join(dir, "c");
  writeFileSync(f, "");
  chmod(f, 0o1777);
  expect(statSync(f).mode & 0o7777).toBe(0o1777);
  unlink(f);
  expect(exists(f)).toBe(false);
  expect(() => unlink(f)).toThrow(`unlink(${f}): ENOENT`);
});

test("listDir lists what readdirSync lists, also past one getdents64 buffer", () => {
  const many = join(dir, "many");
  mkdirSync(many);
  for (let i = 0; i < 1500; i++) writeFileSync(join(many, `entry-with-a-longish-name-${i}`), "");
  expect(listDir(many).sort()).toEqual(readdirSync(many).sort());
  expect(listDir(many)).toHaveLength(1500);
  expect(listDir("/proc/self/fd").length).toBeGreaterThan(2);
  expect(() => listDir(join(dir, "big"))).toThrow("ENOTDIR");
});

test("fileVersion changes with the content or the times, and is null for nothing", () => {
  const f = join(dir, "v");
  writeFileSync(f, "one");
  const v1 = fileVersion(f);
  expect(v1).not.toBeNull();
  expect(fileVersion(f)).toBe(v1);
  writeFileSync(f, "two, longer");
  const v2 = fileVersion(f);
  expect(v2).not.toBe(v1);
  utimesSync(f, new Date(1_000_000), new Date(2_000_000));
  expect(fileVersion(f)).not.toBe(v2);
  expect(fileVersion(join(dir, "absent"))).toBeNull();
});
