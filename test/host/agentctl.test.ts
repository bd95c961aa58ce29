/** The agentctl CLI against agentd in host mode. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { AGENTCTL, startAgent, type HostAgent } from "./harness.ts";

let agent: HostAgent;

beforeAll(async () => {
  agent = await startAgent();
});
afterAll(async () => {
  await agent.stop();
});

async function ctl(
  args: string[],
  stdin?: string,
  socket = agent.socket,
): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([AGENTCTL, "--socket", socket, ...args], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, out, err };
}

describe("agentctl exec", () => {
  test("streams output and exits with the command's code", async () => {
    const r = await ctl(["exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    expect(r).toEqual({ code: 7, out: "out\n", err: "err\n" });
  });
  test("forwards piped stdin", async () => {
    expect((await ctl(["exec", "--", "tr", "a-z", "A-Z"], "shout\n")).out).toBe("SHOUT\n");
  });
  test("passes --env, --cwd, --user and --rlimit", async () => {
    const r = await ctl([
      "exec",
      "-e",
      "X=1",
      "--cwd",
      "/usr",
      "--user",
      "65534",
      "--rlimit",
      "nofile=100:200",
      "--",
      "sh",
      "-c",
      "echo $X; pwd; id -u; ulimit -n",
    ]);
    expect(r.out).toBe("1\n/usr\n65534\n100\n");
  });
  test("exit codes follow the shell: 127 not found, 126 cannot run, 128+N for signal N", async () => {
    const missing = await ctl(["exec", "--", "/no/such/cmd"]);
    expect(missing.code).toBe(127);
    expect(missing.err).toContain("cannot run '/no/such/cmd'");
    const notExec = join(agent.dir, "not-executable");
    writeFileSync(notExec, "#!/bin/sh\n");
    chmodSync(notExec, 0o644);
    const denied = await ctl(["exec", "--user", "65534", "--", notExec]);
    expect(denied.code).toBe(126);
    expect((await ctl(["exec", "--", "sh", "-c", "kill -9 $$"])).code).toBe(137);
    expect((await ctl(["exec", "--", "sh", "-c", "exit 300"])).code).toBe(44);
  });
  test("--json collects the output into one object", async () => {
    const r = await ctl(["exec", "--json", "--", "sh", "-c", "echo out; echo err >&2; exit 4"]);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.out)).toEqual({ code: 4, signal: null, stdout: "out\n", stderr: "err\n" });
  });
  test("an interactive stdin without --tty is not read (the command sees EOF)", async () => {
    // Under `script` agentctl's stdin is a terminal; without -t nothing is forwarded and cat ends.
    const p = Bun.spawnSync(
      ["script", "-qec", `${AGENTCTL} --socket ${agent.socket} exec -- cat; echo rc=$?`, "/dev/null"],
      {
        timeout: 10_000,
      },
    );
    expect(p.stdout.toString()).toContain("rc=0");
  });
  test("--tty runs in a terminal", async () => {
    expect((await ctl(["exec", "--tty", "--", "tty"])).out).toMatch(/^\/dev\/pts\/\d+\r\n$/);
  });
  test("a bad --rlimit is agentctl's own error (exit 125, as docker exec)", async () => {
    const r = await ctl(["exec", "--rlimit", "nofile=abc", "--", "true"]);
    expect(r.code).toBe(125);
    expect(r.err).toContain("expected NAME=SOFT:HARD");
  });
});

describe("agentctl file commands", () => {
  test("cp uploads keeping the mode and downloads back", async () => {
    const local = join(agent.dir, "local.txt");
    writeFileSync(local, "payload\n");
    chmodSync(local, 0o705);
    const guest = join(agent.dir, "guest/sub/remote.txt");
    expect((await ctl(["cp", local, `:${guest}`])).code).toBe(0);
    expect(readFileSync(guest, "utf8")).toBe("payload\n");
    expect(statSync(guest).mode & 0o777).toBe(0o705);
    const back = join(agent.dir, "back.txt");
    expect((await ctl(["cp", `:${guest}`, back])).code).toBe(0);
    expect(readFileSync(back, "utf8")).toBe("payload\n");
    expect((await ctl(["cp", `:${guest}`, "-"])).out).toBe("payload\n");
  });
  test("ls, stat, mkdir, mv, rm, rmdir", async () => {
    const d = join(agent.dir, "tree");
    expect((await ctl(["mkdir", `:${d}/a`])).code).toBe(0);
    writeFileSync(join(d, "f"), "12");
    const ls = await ctl(["ls", `:${d}`]);
    expect(ls.out).toContain(`${d}/a`);
    expect(ls.out).toMatch(/^file\s+0644\s+2 /m);
    const st = JSON.parse((await ctl(["stat", "--json", `:${d}/f`])).out);
    expect(st).toMatchObject({ path: `${d}/f`, kind: "file", size: 2 });
    expect((await ctl(["mv", `:${d}/f`, `:${d}/g`])).code).toBe(0);
    expect((await ctl(["rm", `:${d}/g`])).code).toBe(0);
    expect((await ctl(["rmdir", `:${d}`])).code).toBe(0);
    const missing = await ctl(["stat", `:${d}`]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("stat: No such file or directory");
    expect(missing.err).toContain("the path does not exist in the guest; look with 'agentctl ls :DIR'");
  });
  test("cp copies whole directories both ways: modes, symlinks, nesting; fifos are reported", async () => {
    const src = join(agent.dir, "tree-src");
    mkdirSync(join(src, "a/b/c"), { recursive: true });
    writeFileSync(join(src, "a/b/c/deep.txt"), "deep\n");
    writeFileSync(join(src, "top.bin"), randomBytes(5 * 1024 * 1024 + 17));
    writeFileSync(join(src, "empty"), "");
    chmodSync(join(src, "top.bin"), 0o750);
    chmodSync(join(src, "a/b"), 0o701);
    symlinkSync("a/b/c/deep.txt", join(src, "link"));
    Bun.spawnSync(["mkfifo", join(src, "fifo")]);
    const guest = join(agent.dir, "guest-tree");
    const up = await ctl(["cp", "--json", src, `:${guest}`]);
    expect(up.code).toBe(0);
    expect(JSON.parse(up.out)).toMatchObject({
      files: 3,
      dirs: 4,
      symlinks: 1,
      bytes: 5 * 1024 * 1024 + 17 + 5,
    });
    expect(up.err).toContain("skipped");
    expect(up.err).toContain("fifo: not a file, directory or symlink");
    expect(statSync(join(guest, "a/b")).mode & 0o7777).toBe(0o701);
    expect(statSync(join(guest, "top.bin")).mode & 0o7777).toBe(0o750);
    expect(readlinkSync(join(guest, "link"))).toBe("a/b/c/deep.txt");
    expect(readFileSync(join(guest, "top.bin")).equals(readFileSync(join(src, "top.bin")))).toBe(true);
    // Into an existing directory: the source's name is kept, as with cp.
    const into = join(agent.dir, "into");
    mkdirSync(into);
    const back = await ctl(["cp", `:${guest}`, into]);
    expect(back.code).toBe(0);
    const copy = join(into, "guest-tree");
    expect(readFileSync(join(copy, "a/b/c/deep.txt"), "utf8")).toBe("deep\n");
    expect(readFileSync(join(copy, "top.bin")).equals(readFileSync(join(src, "top.bin")))).toBe(true);
    expect(statSync(join(copy, "a/b")).mode & 0o7777).toBe(0o701);
    expect(statSync(join(copy, "top.bin")).mode & 0o7777).toBe(0o750);
    expect(readlinkSync(join(copy, "link"))).toBe("a/b/c/deep.txt");
    expect(readFileSync(join(copy, "empty"), "utf8")).toBe("");
  });
  test("cp - reads stdin into a guest file; cp :FILE - writes it to stdout", async () => {
    const guest = join(agent.dir, "from-stdin.txt");
    expect((await ctl(["cp", "-", `:${guest}`], "streamed\n")).code).toBe(0);
    expect(readFileSync(guest, "utf8")).toBe("streamed\n");
    expect((await ctl(["cp", `:${guest}`, "-"])).out).toBe("streamed\n");
    const dir = await ctl(["cp", `:${agent.dir}`, "-"]);
    expect(dir.code).toBe(2);
    expect(dir.err).toContain("is a directory; '-' takes one file");
  });
  test("cp of a missing path says which side is missing", async () => {
    const guestMissing = await ctl(["cp", ":/no/such/path", join(agent.dir, "x")]);
    expect(guestMissing.code).toBe(1);
    expect(guestMissing.err).toContain("/no/such/path");
    expect(guestMissing.err).toContain("does not exist in the guest");
    const localMissing = await ctl(["cp", "/no/such/local", `:${agent.dir}/y`]);
    expect(localMissing.code).toBe(1);
    expect(localMissing.err).toContain("the local path does not exist");
  });
  test("cp with no guest side is a usage error", async () => {
    const r = await ctl(["cp", "a", "b"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("exactly one side must be a guest path");
  });
});

describe("agentctl help and errors", () => {
  test("--help lists the commands with examples", async () => {
    const r = await ctl(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("exec [options] -- CMD");
    expect(r.out).toContain("examples:");
    expect((await ctl(["exec", "--help"])).out).toContain("--rlimit NAME=SOFT:HARD");
  });
  test.each(["exec", "shell", "cp", "ls", "stat", "mkdir", "rm", "rmdir", "mv", "shutdown", "image", "vm"])(
    "%s --help has a usage line and an example, exit 0",
    async (cmd) => {
      const r = await ctl([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^usage: agentctl/);
      expect(r.out).toMatch(/examples?:\s*\n?\s*agentctl /);
    },
  );
  test("a stale socket (nothing listening) says the VM has stopped (exit 3)", async () => {
    // A server killed with SIGKILL leaves its socket file behind with nobody listening.
    const stale = join(agent.dir, "stale.sock");
    const server = Bun.spawn([
      "node",
      "-e",
      `require("net").createServer().listen(${JSON.stringify(stale)})`,
    ]);
    for (let i = 0; i < 200 && !existsSync(stale); i++) await Bun.sleep(10);
    server.kill(9);
    await server.exited;
    const r = await ctl(["ls", ":/"], undefined, stale);
    expect(r.code).toBe(3);
    expect(r.err).toContain(`nothing is listening on ${stale}`);
  });
  test("an agent that never says core.ready: a clear timeout (exit 3; exec: 125)", async () => {
    const silent = join(agent.dir, "silent.sock");
    const server = Bun.listen({ unix: silent, socket: { data() {} } });
    try {
      const r = await ctl(["--timeout", "0.5", "ls", ":/"], undefined, silent);
      expect(r.code).toBe(3);
      expect(r.err).toContain("no core.ready");
      expect(r.err).toContain("may still be booting");
      expect((await ctl(["--timeout", "0.5", "exec", "--", "true"], undefined, silent)).code).toBe(125);
    } finally {
      server.stop(true);
    }
  });
  test("a socket that does not exist says what to do (exit 3; exec: 125)", async () => {
    const p = Bun.spawnSync([AGENTCTL, "--socket", "/nonexistent/agent.sock", "exec", "--", "true"]);
    expect(p.exitCode).toBe(125);
    expect(p.stderr.toString()).toContain("no agent socket at /nonexistent/agent.sock");
  });
  test("an unknown command is a usage error", async () => {
    const r = await ctl(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'frobnicate'");
  });
  test("shutdown stops the agent", async () => {
    const r = await ctl(["shutdown"]);
    expect(r.code).toBe(0);
    expect(await agent.proc.exited).toBe(0);
  });
});
