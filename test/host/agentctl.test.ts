/** The agentctl CLI against agentd in host mode. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENTCTL, startAgent, type HostAgent } from "./harness.ts";

let agent: HostAgent;

beforeAll(async () => {
  agent = await startAgent();
});
afterAll(async () => {
  await agent.stop();
});

async function ctl(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([AGENTCTL, "--socket", agent.socket, ...args], {
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
  test("a command that cannot start exits 255 with the reason", async () => {
    const r = await ctl(["exec", "--", "/no/such/cmd"]);
    expect(r.code).toBe(255);
    expect(r.err).toContain("cannot run '/no/such/cmd'");
  });
  test("--tty runs in a terminal", async () => {
    expect((await ctl(["exec", "--tty", "--", "tty"])).out).toMatch(/^\/dev\/pts\/\d+\r\n$/);
  });
  test("a bad --rlimit is a usage error (exit 2)", async () => {
    const r = await ctl(["exec", "--rlimit", "nofile=abc", "--", "true"]);
    expect(r.code).toBe(2);
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
  });
  test("cp with no guest side is a usage error", async () => {
    const r = await ctl(["cp", "a", "b"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("exactly one side must be a guest path");
  });
});

describe("agentctl help and errors", () => {
  test("--help lists the commands with an example", async () => {
    const r = await ctl(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("exec [options] -- CMD");
    expect(r.out).toContain("example:");
    expect((await ctl(["exec", "--help"])).out).toContain("--rlimit NAME=SOFT:HARD");
  });
  test("a socket that does not exist says what to do (exit 3)", async () => {
    const p = Bun.spawnSync([AGENTCTL, "--socket", "/nonexistent/agent.sock", "exec", "--", "true"]);
    expect(p.exitCode).toBe(3);
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
