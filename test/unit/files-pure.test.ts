/** The pure parts of src/sys/files.ts: path joining, parent directories, getdents64 records. */
import { expect, test } from "bun:test";
import { cstr, utf8 } from "../../src/sys/cstr.ts";
import { dirname, join } from "node:path";
import { direntNames, joinPath, parentDir } from "../../src/sys/files.ts";

test("joinPath joins with single slashes, as node's join does for clean pieces", () => {
  const cases: string[][] = [
    ["/", "etc"],
    ["/", "etc", "hosts"],
    ["/tmp/root", "etc", "profile"],
    ["/tmp/root/", "/etc/ssl/cert.pem"],
    ["/.msb/file-mounts", "tag"],
    ["/run/agentd", "agentd-spill"],
    ["relative", "x"],
  ];
  for (const parts of cases) expect(joinPath(...parts)).toBe(join(...parts));
  expect(joinPath("/a//b", "", "c")).toBe("/a/b/c");
});

test("parentDir is node's dirname for clean paths, and drops trailing slashes", () => {
  for (const p of ["/a/b", "/a", "/", "a", "a/b/c", "/.agentd/bin/agentd", "/run/agentd/partials"])
    expect(parentDir(p)).toBe(dirname(p));
  expect(parentDir("/a/b/")).toBe("/a");
  expect(parentDir("/a//b")).toBe("/a");
  expect(parentDir("//a")).toBe("/");
});

/** getdents64 records as the kernel lays them out: ino, off, reclen, type, name, NUL, padding. */
function records(names: string[]): Uint8Array {
  const parts = names.map((name) => {
    const bytes = new TextEncoder().encode(name);
    const reclen = Math.ceil((19 + bytes.length + 1) / 8) * 8;
    const rec = new Uint8Array(reclen);
    const v = new DataView(rec.buffer);
    v.setBigUint64(0, 1234n, true);
    v.setBigInt64(8, 1n, true);
    v.setUint16(16, reclen, true);
    rec[18] = 8;
    rec.set(bytes, 19);
    return rec;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("direntNames reads names from getdents64 records, without . and ..", () => {
  const buf = records([".", "..", "vport0p1", "a-name-of-exactly-twenty", "ünïcode", "x"]);
  expect(direntNames(buf, new DataView(buf.buffer), buf.length)).toEqual([
    "vport0p1",
    "a-name-of-exactly-twenty",
    "ünïcode",
    "x",
  ]);
});

test("direntNames stops at a record that would run past the bytes read", () => {
  const buf = records(["one", "two"]);
  const cut = buf.length - 3;
  expect(direntNames(buf, new DataView(buf.buffer), cut)).toEqual(["one"]);
  const bad = records(["one"]);
  new DataView(bad.buffer).setUint16(16, 0, true);
  expect(direntNames(bad, new DataView(bad.buffer), bad.length)).toEqual([]);
});

test("cstr and utf8: UTF-8 bytes, the C string with one NUL at its end", () => {
  expect([...utf8("é/x")]).toEqual([0xc3, 0xa9, 0x2f, 0x78]);
  expect([...cstr("é/x")]).toEqual([0xc3, 0xa9, 0x2f, 0x78, 0]);
  expect([...cstr("")]).toEqual([0]);
});
