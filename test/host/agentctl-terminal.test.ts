/**
 * agentctl's terminal behaviour under a real pseudo-terminal: `shell` and `exec --tty` in raw
 * mode, the remote size following the local one (SIGWINCH), Ctrl-C and Ctrl-D passed through,
 * the exit code returned, and the local terminal restored however agentctl ends (normal exit,
 * SIGTERM, the agent going away). Also `cp`'s progress line, drawn only on a terminal.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runInPty as pty, STTY_AROUND, expectTerminalRestored, type PtyRun } from "../pty.ts";
import { AGENTCTL, startAgent, type HostAgent } from "./harness.ts";

let agent: HostAgent;

beforeAll(async () => {
  agent = await startAgent();
});
afterAll(async () => {
  await agent.stop();
});

// A failed test must not leave its agentctl connected: agentd serves one client at a time.
const runs: PtyRun[] = [];
const runInPty = (...a: Parameters<typeof pty>) => {
  const r = pty(...a);
  runs.push(r);
  return r;
};
afterEach(() => {
  for (const r of runs.splice(0)) {
    Bun.spawnSync(["pkill", "-KILL", "-P", String(r.proc.pid)]);
    r.proc.kill(9);
  }
});

const ctl = (args: string) => `${AGENTCTL} --socket ${agent.socket} ${args}`;

describe("agentctl shell", () => {
  test("size follows the local terminal, ^C interrupts, ^D ends, terminal restored", async () => {
    const t = runInPty(STTY_AROUND(ctl("shell")), {}, 31, 97);
    t.type("stty size; echo MARK$((1+1))\r");
    await t.waitFor(/31 97\r\nMARK2/);
    let at = t.screen().length;
    t.resize(40, 120);
    await Bun.sleep(200);
    t.type("stty size; echo MARK$((2+1))\r");
    await t.waitFor(/40 120\r\nMARK3/, 10_000, at);
    // ^C reaches the guest's foreground job (sleep), not agentctl: the shell stays.
    t.type("sleep 100\r");
    await Bun.sleep(300);
    at = t.screen().length;
    t.type("\x03");
    t.type("echo ALIVE$((2+2))\r");
    await t.waitFor(/ALIVE4/, 3000, at);
    // ^D at an empty prompt ends the shell; agentctl exits 0 and the terminal is as before.
    t.type("\x04");
    expect(await t.exited).toBe(0);
    expect(t.screen()).toContain("RC[0]");
    expectTerminalRestored(t.screen());
  }, 30_000);

  test("the shell's exit code is agentctl's", async () => {
    const t = runInPty(STTY_AROUND(ctl("shell -- sh")));
    t.type("echo READY$((3+3))\r");
    await t.waitFor(/READY6/);
    t.type("exit 7\r");
    await t.exited;
    expect(t.screen()).toContain("RC[7]");
    expectTerminalRestored(t.screen());
  }, 30_000);

  test("exec --tty passes ^C through: the remote command dies of SIGINT (exit 130)", async () => {
    const t = runInPty(STTY_AROUND(ctl("exec --tty -- sh -c 'echo GO; exec cat'")));
    await t.waitFor(/GO/);
    t.type("\x03");
    await t.exited;
    expect(t.screen()).toContain("RC[130]");
    expectTerminalRestored(t.screen());
  }, 30_000);

  test("SIGTERM to agentctl restores the terminal", async () => {
    const t = runInPty(STTY_AROUND(ctl("shell")));
    t.type("echo UP$((4+4))\r");
    await t.waitFor(/UP8/);
    const child = Bun.spawnSync(["pgrep", "-P", String(t.proc.pid)])
      .stdout.toString()
      .trim()
      .split("\n")[0];
    expect(child).toMatch(/^\d+$/);
    process.kill(Number(child), "SIGTERM");
    await t.exited;
    expect(t.screen()).toContain("RC[143]");
    expectTerminalRestored(t.screen());
  }, 30_000);

  test("the agent going away mid-session restores the terminal and exits 125", async () => {
    const own = await startAgent();
    try {
      const t = runInPty(STTY_AROUND(`${AGENTCTL} --socket ${own.socket} shell`));
      t.type("echo UP$((5+5))\r");
      await t.waitFor(/UP10/);
      own.proc.kill(9);
      await t.exited;
      expect(t.screen()).toContain("RC[125]");
      expect(t.screen()).toContain("agentctl: the agent closed the connection");
      expectTerminalRestored(t.screen());
    } finally {
      await own.stop();
    }
  }, 30_000);
});

describe("agentctl cp progress", () => {
  test("a progress line (percent, rate, time left) on a terminal, none when stderr is a pipe", async () => {
    const src = join(agent.dir, "progress.bin");
    writeFileSync(src, Buffer.alloc(64 * 1024 * 1024, 7));
    const t = runInPty(`${ctl(`cp ${src} :${agent.dir}/progress-up.bin`)}; echo "RC[$?]"`);
    await t.exited;
    expect(t.screen()).toContain("RC[0]");
    expect(t.screen()).toMatch(/\[#+ *\] +\d+%  [\d.]+ MiB \/ 64\.0 MiB  [\d.]+ [KM]iB\/s  \d+:\d\d left/);
    expect(t.screen()).toMatch(/100%  64\.0 MiB \/ 64\.0 MiB/);

    const piped = Bun.spawnSync([
      "sh",
      "-c",
      `${ctl(`cp ${src} :${agent.dir}/progress-up2.bin`)} 2>&1 | cat`,
    ]);
    expect(piped.exitCode).toBe(0);
    expect(piped.stdout.toString()).toBe("");
  }, 60_000);
});
