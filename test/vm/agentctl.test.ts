/** agentctl's VM commands end to end, and init's limit on restarting agentd. */
import { expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENTCTL } from "../host/harness.ts";
import { bootGuest, defaultImage, text } from "./harness.ts";
import { alive } from "../../src/host/process.ts";
import { runInPty, STTY_AROUND, expectTerminalRestored } from "../pty.ts";

/** `agentctl shell` under a real PTY and `cp` of a tree both ways, against the guest's busybox. */
async function shellAndCpInGuest(socket: string, dir: string): Promise<void> {
  const t = runInPty(STTY_AROUND(`${AGENTCTL} --socket ${socket} shell`), {}, 33, 101);
  try {
    t.type("stty size; echo MARK$((1+1))\r");
    await t.waitFor(/33 101\r\nMARK2/, 20_000);
    t.resize(44, 111);
    await Bun.sleep(300);
    t.type("stty size; exit 5\r");
    await t.waitFor(/44 111/, 20_000);
    await t.exited;
    expect(t.screen()).toContain("RC[5]");
    expectTerminalRestored(t.screen());
  } finally {
    t.proc.kill(9);
  }
  const src = join(dir, "tree");
  mkdirSync(join(src, "a/b"), { recursive: true });
  writeFileSync(join(src, "a/b/f.txt"), "in the guest\n");
  chmodSync(join(src, "a"), 0o710);
  symlinkSync("a/b/f.txt", join(src, "ln"));
  const ctl = (...args: string[]) =>
    Bun.spawnSync([AGENTCTL, "--socket", socket, ...args], { stdout: "pipe", stderr: "pipe" });
  const up = ctl("cp", src, ":/tmp/tree");
  expect(up.stderr.toString()).toBe("");
  expect(up.exitCode).toBe(0);
  const seen = ctl(
    "exec",
    "--",
    "sh",
    "-c",
    "stat -c %a /tmp/tree/a; readlink /tmp/tree/ln; cat /tmp/tree/ln",
  );
  expect(text(seen.stdout)).toBe("710\na/b/f.txt\nin the guest\n");
  const down = ctl("cp", ":/tmp/tree", join(dir, "back"));
  expect(down.exitCode).toBe(0);
  expect(readFileSync(join(dir, "back/a/b/f.txt"), "utf8")).toBe("in the guest\n");
  expect(readlinkSync(join(dir, "back/ln"))).toBe("a/b/f.txt");
  expect(statSync(join(dir, "back/a")).mode & 0o7777).toBe(0o710);
}

test("vm run boots, runs the command, powers off and exits with its code", async () => {
  defaultImage();
  const p = Bun.spawn(
    [
      AGENTCTL,
      "vm",
      "run",
      "--env",
      "SOME_VAR=from-host",
      "--",
      "sh",
      "-c",
      "echo hi from $(uname -r) $SOME_VAR; exit 3",
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(out).toMatch(/^hi from .*cloud-amd64 from-host\n$/);
  expect(code).toBe(3);
}, 180_000);

test("vm start prints the JSON line, any client may connect, vm stop powers off and cleans up", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-vm-cli-"));
  try {
    const start = Bun.spawnSync([AGENTCTL, "vm", "start", "--state", dir, "--memory", "768", "--cpus", "1"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(start.exitCode).toBe(0);
    const info = JSON.parse(start.stdout.toString());
    expect(info).toMatchObject({
      socket: join(dir, "agent.sock"),
      runtime_dir: join(dir, "runtime"),
      console_log: join(dir, "console.log"),
    });
    expect(alive(info.pid)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const r = Bun.spawnSync(
        [AGENTCTL, "--socket", info.socket, "exec", "--", "sh", "-c", "grep -c ^processor /proc/cpuinfo"],
        { stdout: "pipe" },
      );
      expect(text(r.stdout)).toBe("1\n");
    }
    await shellAndCpInGuest(info.socket, dir);
    const stop = Bun.spawnSync([AGENTCTL, "vm", "stop", "--state", dir], { stdout: "pipe", stderr: "pipe" });
    expect(stop.exitCode).toBe(0);
    expect(stop.stderr.toString()).not.toContain("QEMU was killed");
    expect(alive(info.pid)).toBe(false);
    for (const pid of info.virtiofsd_pids) expect(alive(pid)).toBe(false);
    expect(existsSync(info.socket)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

test("vm start with a bad --env fails with a clear message before booting", () => {
  const r = Bun.spawnSync([AGENTCTL, "vm", "start", "--state", "/tmp/agentd-never", "--env", "BROKEN"], {
    stderr: "pipe",
  });
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr.toString()).toContain("--env 'BROKEN': expected KEY=VALUE");
});

test("init restarts a dying agentd at most 5 times a minute, then powers off with a message", async () => {
  const guest = await bootGuest();
  try {
    for (let i = 0; i < 6; i++) {
      const c = await guest.connect();
      void c
        .exec("sh", ["-c", "kill -9 $(pidof agentd)"])
        .collect()
        .catch(() => {});
      // The dead agentd cannot say goodbye: QEMU keeps this connection open, so leave it.
      await Bun.sleep(500);
      c.close();
      if (!alive(guest.state.pid)) break;
    }
    const t = Date.now();
    while (alive(guest.state.pid) && Date.now() - t < 20_000) await Bun.sleep(100);
    expect(alive(guest.state.pid)).toBe(false);
    const log = readFileSync(guest.state.console_log, "utf8");
    expect(log).toContain("init: agentd keeps dying (5 restarts within a minute); powering off");
    expect(log).toContain("reboot: Power down");
    expect(log).not.toContain("Kernel panic");
  } finally {
    await guest.stop();
  }
}, 180_000);
