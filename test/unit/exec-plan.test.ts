/** Pure parts of exec: user resolution from passwd/group text, the environment, rlimit names. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildEnv, FALLBACK_PATH } from "../../src/agent/exec/env.ts";
import { RLIMIT_NUMBERS, rlimitArgs } from "../../src/agent/exec/rlimits.ts";
import { parseGroup, parsePasswd, resolveUser } from "../../src/agent/exec/user.ts";

const etc = join(import.meta.dir, "..", "fixtures", "etc");
const passwd = parsePasswd(readFileSync(join(etc, "passwd"), "utf8"));
const groups = parseGroup(readFileSync(join(etc, "group"), "utf8"));
const resolve = (spec: string | null) => resolveUser(spec, passwd, groups);

describe("user resolution", () => {
  test("skips comments and malformed lines", () => {
    expect(passwd.map((p) => p.name)).toEqual(["root", "daemon", "alice", "bob"]);
  });
  test("ids are 1-10 digits, member lists drop blanks, short lines and comments are skipped", () => {
    const p = parsePasswd(
      [
        "ok:x:7:8:gecos:/home/ok:/bin/sh",
        "letters:x:7a:8::/h:/bin/sh",
        "signed:x:-1:8::/h:/bin/sh",
        "eleven:x:12345678901:8::/h:/bin/sh",
        "emptyid:x::8::/h:/bin/sh",
        "short:x:9:9:/h",
        "  # comment:x:1:1::/h:/bin/sh",
        "#c:x:1:1::/h:/bin/sh",
        "   ",
        "max:x:4294967294:0::/m:/bin/sh",
        "",
      ].join("\n"),
    );
    expect(p).toEqual([
      { name: "ok", uid: 7, gid: 8, home: "/home/ok" },
      // Not a comment: only a line that starts with '#' is one (as before; the name is odd but valid).
      { name: "  # comment", uid: 1, gid: 1, home: "/h" },
      { name: "max", uid: 4294967294, gid: 0, home: "/m" },
    ]);
    const g = parseGroup(["dev:x:20: alice , ,bob,", "bad:x:2x:alice", "few:x:3", "none:x:4:"].join("\n"));
    expect(g).toEqual([
      { name: "dev", gid: 20, members: ["alice", "bob"] },
      { name: "none", gid: 4, members: [] },
    ]);
    expect(resolveUser("12345678901", p, g).ok).toBe(false);
    expect(resolveUser("ok:dev", p, g)).toEqual({
      ok: true,
      value: { uid: 7, gid: 20, groups: [20], home: "/home/ok" },
    });
  });
  test("no user means root", () => {
    expect(resolve(null)).toEqual({ ok: true, value: { uid: 0, gid: 0, groups: [0], home: "/root" } });
  });
  test("NAME gives uid, primary gid, initgroups-style supplementary groups and home", () => {
    expect(resolve("alice")).toEqual({
      ok: true,
      value: { uid: 1000, gid: 1000, groups: [1000, 100, 2000], home: "/home/alice" },
    });
    expect(resolve(" bob ")).toEqual({
      ok: true,
      value: { uid: 1001, gid: 100, groups: [100, 2000, 29], home: "/home/bob" },
    });
  });
  test("UID of a known user is the same as its name", () => {
    expect(resolve("1000")).toEqual(resolve("alice"));
  });
  test("an unknown numeric uid is allowed with gid 0 and no groups", () => {
    expect(resolve("4242")).toEqual({ ok: true, value: { uid: 4242, gid: 0, groups: [], home: null } });
  });
  test("NAME:GROUP and UID:GID set the gid", () => {
    expect(resolve("alice:dev")).toEqual({
      ok: true,
      value: { uid: 1000, gid: 2000, groups: [2000, 100], home: "/home/alice" },
    });
    expect(resolve("4242:77")).toEqual({ ok: true, value: { uid: 4242, gid: 77, groups: [], home: null } });
  });
  test.each([
    ["nobody-here", "unknown user 'nobody-here'"],
    ["alice:nogroup", "unknown group 'nogroup'"],
    [":100", "missing user"],
    ["alice:", "missing group"],
    ["   ", "empty user"],
  ])("%p is an error naming the problem", (spec, message) => {
    const r = resolve(spec);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain(message);
  });
});

describe("environment", () => {
  const base = { PATH: "/usr/bin:/bin", HOME: "/", KEEP: "1" };
  test("puts /.msb/scripts first on agentd's PATH when the request has none", () => {
    expect(buildEnv(base, [], "/.msb/scripts", "/root")).toEqual({
      PATH: "/.msb/scripts:/usr/bin:/bin",
      HOME: "/root",
      KEEP: "1",
    });
  });
  test("prepends to the request's first PATH and lets later entries win", () => {
    const env = buildEnv(base, ["PATH=/opt/bin", "A=1", "A=2", "NOEQUALS", "=x"], "/.msb/scripts", null);
    expect(env["PATH"]).toBe("/.msb/scripts:/opt/bin");
    expect(env["A"]).toBe("2");
    expect(env["NOEQUALS"]).toBeUndefined();
    expect(env["HOME"]).toBe("/");
  });
  test("the request's HOME wins over the user's", () => {
    expect(buildEnv(base, ["HOME=/x"], "/s", "/home/alice")["HOME"]).toBe("/x");
  });
  test("falls back to the standard PATH", () => {
    expect(buildEnv({}, [], "/s", null)["PATH"]).toBe(`/s:${FALLBACK_PATH}`);
  });
});

describe("rlimits", () => {
  test("knows all sixteen names", () => {
    expect(Object.keys(RLIMIT_NUMBERS).sort()).toEqual(
      "as core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack".split(
        " ",
      ),
    );
  });
  test("turns limits into helper arguments, u64::MAX passing through", () => {
    const r = rlimitArgs([
      { resource: "nofile", soft: 1024, hard: 4096 },
      { resource: "AS", soft: (1n << 64n) - 1n, hard: (1n << 64n) - 1n },
    ]);
    expect(r).toEqual({
      ok: true,
      value: ["-r", "7:1024:4096", "-r", "9:18446744073709551615:18446744073709551615"],
    });
  });
  test("an unknown name is an error that lists the known ones", () => {
    const r = rlimitArgs([{ resource: "bogus", soft: 1, hard: 1 }]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/unknown rlimit resource 'bogus' \(known: cpu fsize/);
  });
  test("soft above hard is an error", () => {
    expect(rlimitArgs([{ resource: "nofile", soft: 10, hard: 5 }]).ok).toBe(false);
  });
});
