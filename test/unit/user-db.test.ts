/** The cached /etc/passwd and /etc/group: parsed once, parsed again when a file changes. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, renameSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { userDb } from "../../src/agent/exec/user-db.ts";

const dir = mkdtempSync(join(tmpdir(), "agentd-userdb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const passwd = join(dir, "passwd");
const group = join(dir, "group");

describe("userDb", () => {
  test("parses both files and returns the same parse while they are unchanged", () => {
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(group, "root:x:0:\n");
    const a = userDb(passwd, group);
    expect(a.passwd.map((e) => e.name)).toEqual(["root"]);
    expect(a.groups.map((g) => g.name)).toEqual(["root"]);
    const b = userDb(passwd, group);
    expect(b.passwd).toBe(a.passwd);
    expect(b.groups).toBe(a.groups);
  });

  test("a user added in place (same inode, new size) is seen by the next call", () => {
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    expect(userDb(passwd, group).passwd.map((e) => e.name)).toEqual(["root", "alice"]);
  });

  test("a same-size rewrite is seen through its modification time", () => {
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/sh\nbobby:x:1000:1000::/home/alice:/bin/sh\n");
    utimesSync(passwd, new Date(), new Date(Date.now() + 5000));
    expect(userDb(passwd, group).passwd.map((e) => e.name)).toEqual(["root", "bobby"]);
  });

  test("a file replaced by rename (new inode, as useradd does) is seen", () => {
    writeFileSync(join(dir, "group.new"), "root:x:0:\nstaff:x:50:alice\n");
    renameSync(join(dir, "group.new"), group);
    expect(userDb(passwd, group).groups.map((g) => g.name)).toEqual(["root", "staff"]);
  });

  test("a missing file reads as empty, and its return is seen", () => {
    rmSync(group);
    expect(userDb(passwd, group).groups).toEqual([]);
    writeFileSync(group, "root:x:0:\n");
    expect(userDb(passwd, group).groups.map((g) => g.name)).toEqual(["root"]);
  });

  test("another path is read from that path, not served from the cache", () => {
    const other = join(dir, "passwd2");
    writeFileSync(other, "carol:x:7:7::/:/bin/sh\n");
    expect(userDb(other, group).passwd.map((e) => e.name)).toEqual(["carol"]);
    expect(userDb(passwd, group).passwd.map((e) => e.name)).toEqual(["root", "bobby"]);
  });
});
