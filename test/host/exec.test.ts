/** Exec sessions against the compiled agentd in host mode. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AgentClient } from "../../src/host/client.ts";
import { processTicks } from "../support.ts";
import { startAgent, text, type HostAgent } from "./harness.ts";

let agent: HostAgent;
let client: AgentClient;

beforeAll(async () => {
  agent = await startAgent({ env: { MSB_HOSTNAME: "leak-check", AGENTD_TEST_VAR: "inherited" } });
  client = await agent.connect();
});
afterAll(async () => {
  client.close();
  await agent.stop();
});

describe("exec with pipes", () => {
  test("stdout, stderr and the exit code arrive, started before output", async () => {
    const h = client.exec("sh", ["-c", "echo out; echo err >&2; exit 3"]);
    const pid = await h.started;
    expect(pid).toBeGreaterThan(1);
    const r = await h.collect();
    expect(r).toMatchObject({ code: 3 });
    expect(text(r.stdout)).toBe("out\n");
    expect(text(r.stderr)).toBe("err\n");
  });

  test("a spawn failure is one stderr line and exited -1, with no started", async () => {
    const h = client.exec("/no/such/binary", []);
    await expect(h.started).rejects.toThrow("cannot run '/no/such/binary': No such file or directory");
    const r = await h.collect();
    expect(r.code).toBe(-1);
    expect(text(r.stderr)).toBe("agentd: cannot run '/no/such/binary': No such file or directory\n");
  });

  test("a bare name found nowhere on PATH is the same spawn failure (the helper's PATH search says it)", async () => {
    const h = client.exec("no-such-command-anywhere", ["x"], { env: ["PATH=/usr/bin:/bin"] });
    await expect(h.started).rejects.toThrow(
      "cannot run 'no-such-command-anywhere': No such file or directory",
    );
    const r = await h.collect();
    expect(r.code).toBe(-1);
    expect(text(r.stderr)).toBe("agentd: cannot run 'no-such-command-anywhere': No such file or directory\n");
  });

  test("a bare name is looked up on the request's PATH, not agentd's", async () => {
    writeFileSync(join(agent.dir, "only-here"), "#!/bin/sh\necho found me\n", { mode: 0o755 });
    const r = await client.exec("only-here", [], { env: [`PATH=${agent.dir}:/usr/bin:/bin`] }).collect();
    expect({ code: r.code, out: text(r.stdout) }).toEqual({ code: 0, out: "found me\n" });
  });

  test("PATH is searched as execvp does: a non-executable file or a directory of that name is passed over", async () => {
    const dirs = ["a", "b", "c"].map((d) => join(agent.dir, `path-${d}`));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    writeFileSync(join(dirs[0]!, "pick-me"), "#!/bin/sh\necho not executable\n", { mode: 0o644 });
    mkdirSync(join(dirs[1]!, "pick-me"), { recursive: true });
    writeFileSync(join(dirs[2]!, "pick-me"), "#!/bin/sh\necho the third\n", { mode: 0o755 });
    const r = await client.exec("pick-me", [], { env: [`PATH=${dirs.join(":")}:/usr/bin:/bin`] }).collect();
    expect({ code: r.code, out: text(r.stdout) }).toEqual({ code: 0, out: "the third\n" });
    // Found only where it cannot run: execvp's EACCES, not "No such file".
    const denied = await client.exec("pick-me", [], { env: [`PATH=${dirs[0]}:/usr/bin:/bin`] }).collect();
    expect(denied.code).toBe(-1);
    expect(text(denied.stderr)).toBe("agentd: cannot run 'pick-me': Permission denied\n");
  });

  test("an empty command is a spawn failure, as execvp says it", async () => {
    const r = await client.exec("", []).collect();
    expect(r.code).toBe(-1);
    expect(text(r.stderr)).toBe("agentd: cannot run '': No such file or directory\n");
  });

  test("an empty PATH entry is the working directory", async () => {
    const dir = join(agent.dir, "cwd-bin");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "here-only"), "#!/bin/sh\necho from cwd\n", { mode: 0o755 });
    const r = await client.exec("here-only", [], { cwd: dir, env: ["PATH=/usr/bin::/bin"] }).collect();
    expect({ code: r.code, out: text(r.stdout) }).toEqual({ code: 0, out: "from cwd\n" });
  });

  test("a command found on PATH but not executable is a spawn failure too", async () => {
    const r = await client.exec("/etc/passwd").collect();
    expect(r.code).toBe(-1);
    expect(text(r.stderr)).toContain("Permission denied");
  });

  test("a command that exits 127 by itself is not a spawn failure", async () => {
    const h = client.exec("sh", ["-c", "exit 127"]);
    await h.started;
    expect((await h.collect()).code).toBe(127);
  });

  test("stdin streams in order and empty data closes it", async () => {
    const h = client.exec("sha256sum");
    const hasher = new Bun.CryptoHasher("sha256");
    for (let i = 0; i < 64; i++) {
      const chunk = new Uint8Array(1 << 20).fill(i);
      hasher.update(chunk);
      await h.write(chunk);
    }
    await h.closeStdin();
    const r = await h.collect();
    expect(text(r.stdout).split(" ")[0]).toBe(hasher.digest("hex"));
  });

  test("a 1 MiB stdin frame reaches a slow reader whole (ours: stdin is lossless)", async () => {
    const h = client.exec("sh", ["-c", "sleep 0.3; wc -c"]);
    await h.write(new Uint8Array(1 << 20).fill(7));
    await h.closeStdin();
    expect(text((await h.collect()).stdout).trim()).toBe(String(1 << 20));
  });

  test("stdin sent before the process has started is kept", async () => {
    const h = client.exec("cat");
    void h.write("early bytes");
    void h.closeStdin();
    expect(text((await h.collect()).stdout)).toBe("early bytes");
  });

  test("death by signal reports code -1 and the signal (ours)", async () => {
    const h = client.exec("sleep", ["30"]);
    await h.started;
    h.signal(15);
    expect(await h.exited).toEqual({ code: -1, signal: 15 });
  });

  test("a signal goes to the session's whole process group", async () => {
    const h = client.exec("sh", ["-c", "sleep 30 | sleep 31; echo not-reached"]);
    await h.started;
    await Bun.sleep(100);
    h.signal(9);
    const r = await h.collect();
    expect(r.signal).toBe(9);
    const ps = await client.exec("sh", ["-c", "pgrep -f 'sleep 3[01]$' || true"]).collect();
    expect(text(ps.stdout).trim()).toBe("");
  });

  test("exited comes promptly when a background child still holds the pipes", async () => {
    const t0 = performance.now();
    const r = await client.exec("sh", ["-c", "sleep 60 & echo hi"]).collect();
    expect(performance.now() - t0).toBeLessThan(800);
    expect(text(r.stdout)).toBe("hi\n");
    expect(r.code).toBe(0);
  });

  test("PATH starts with /.msb/scripts; agentd's env is inherited without MSB_*; HOME is root's", async () => {
    const r = await client
      .exec("sh", ["-c", 'echo "$PATH"; echo "$AGENTD_TEST_VAR"; echo "${MSB_HOSTNAME-unset}"; echo "$HOME"'])
      .collect();
    const [path, inherited, msb, home] = text(r.stdout).split("\n");
    expect(path!.startsWith("/.msb/scripts:")).toBe(true);
    expect(inherited).toBe("inherited");
    expect(msb).toBe("unset");
    expect(home).toBe("/root");
  });

  test("request env entries apply in order and PATH from the request gets the scripts prefix", async () => {
    const r = await client
      .exec("sh", ["-c", 'echo "$A $PATH"'], { env: ["A=1", "PATH=/usr/bin:/bin", "A=2", "JUNK"] })
      .collect();
    expect(text(r.stdout)).toBe("2 /.msb/scripts:/usr/bin:/bin\n");
  });

  test("cwd is honoured and a missing cwd is a spawn failure", async () => {
    expect(text((await client.exec("pwd", [], { cwd: "/usr" }).collect()).stdout)).toBe("/usr\n");
    const r = await client.exec("pwd", [], { cwd: "/no/such/dir" }).collect();
    expect(r.code).toBe(-1);
    expect(text(r.stderr)).toContain("cannot change directory to '/no/such/dir'");
  });

  test("user and rlimits are applied by the exec helper", async () => {
    const r = await client
      .exec("sh", ["-c", "id -u; id -g; ulimit -n"], {
        user: "65534:65534",
        rlimits: [{ resource: "nofile", soft: 123, hard: 456 }],
      })
      .collect();
    expect(text(r.stdout)).toBe("65534\n65534\n123\n");
  });

  test("an unknown user or rlimit is a clear spawn failure", async () => {
    const u = await client.exec("true", [], { user: "no-such-user" }).collect();
    expect(u.code).toBe(-1);
    expect(text(u.stderr)).toContain("unknown user 'no-such-user'");
    const l = await client.exec("true", [], { rlimits: [{ resource: "bogus", soft: 1, hard: 1 }] }).collect();
    expect(l.code).toBe(-1);
    expect(text(l.stderr)).toContain("unknown rlimit resource 'bogus'");
  });

  test("a child gets default signal dispositions (SIGPIPE ends a pipeline)", async () => {
    const r = await client.exec("sh", ["-c", "yes | head -c 3"]).collect();
    expect(text(r.stdout)).toBe("y\ny");
    expect(r.code).toBe(0);
  });

  test("50 concurrent sessions all finish with their own output and code", async () => {
    const runs = Array.from({ length: 50 }, (_, i) =>
      client
        .exec("sh", ["-c", `sleep 0.$((RANDOM % 3)) 2>/dev/null; echo session-${i}; exit ${i % 7}`])
        .collect(),
    );
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(text(r.stdout)).toBe(`session-${i}\n`);
      expect(r.code).toBe(i % 7);
    });
  });
});

describe("exec with a tty", () => {
  test("runs in a pseudo-terminal of the requested size and returns the exit code", async () => {
    const r = await client
      .exec("sh", ["-c", "tty; stty size; exit 4"], { tty: true, rows: 33, cols: 99 })
      .collect();
    const out = text(r.stdout);
    expect(out).toMatch(/^\/dev\/pts\/\d+\r\n33 99\r\n$/);
    expect(r.code).toBe(4);
  });

  test("resize changes the size the child sees", async () => {
    const h = client.exec("sh", ["-c", "read x; stty size"], { tty: true, rows: 10, cols: 20 });
    await h.started;
    h.resize(40, 120);
    await Bun.sleep(50);
    await h.write("go\n");
    const r = await h.collect();
    expect(text(r.stdout)).toContain("40 120");
  });

  test("empty stdin sends the terminal's EOF character", async () => {
    const h = client.exec("cat", [], { tty: true });
    await h.started;
    await h.write("abc\n");
    await h.closeStdin();
    const r = await h.collect();
    expect(r.code).toBe(0);
    expect(text(r.stdout)).toContain("abc");
  });
});

test("an idle agentd sleeps: < 10% of a core over a second once sessions have started its polling Worker", async () => {
  // Host mode's Worker (no port) polled with a zero timeout and spun a core for good.
  expect(text((await client.exec("echo", ["woken"]).collect()).stdout)).toBe("woken\n");
  await Bun.sleep(200);
  const before = processTicks(agent.proc.pid);
  await Bun.sleep(1000);
  expect(processTicks(agent.proc.pid) - before).toBeLessThan(10);
});
