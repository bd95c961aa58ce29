/**
 * No one gets in: a non-root exec cannot open the agent port, signal or inspect agentd or init,
 * or read a root-only file; a child holds no descriptor but 0, 1, 2; every descriptor of agentd
 * beyond its stdio is close-on-exec. And a memory hog is what the OOM killer takes, not agentd.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { AgentClient } from "../../src/host/client.ts";
import { bootGuest, text, type Guest } from "./harness.ts";

let guest: Guest;
let c: AgentClient;
beforeAll(async () => {
  // Small, so the memory hog below reaches the OOM killer quickly even under TCG.
  guest = await bootGuest({ memoryMiB: 512 });
  c = await guest.connect();
}, 120_000);
afterAll(async () => {
  c?.close();
  await guest?.stop();
}, 60_000);

async function sh(script: string, user?: string, tty = false) {
  const r = await c.exec("sh", ["-c", script], { ...(user ? { user } : {}), tty }).collect();
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

test("a non-root exec cannot open the port, signal or inspect agentd and init, or read root's files", async () => {
  await c.writeFile("/root-only.txt", "secret\n", 0o600);
  const port = (await sh("ls /sys/class/virtio-ports/")).out.trim().split("\n")[0];
  const script = `
    cat /dev/${port} </dev/null >/dev/null 2>&1 && echo port-opened || echo port-denied
    kill -0 1 2>/dev/null && echo init-signalled || echo init-denied
    kill -0 $(pidof agentd) 2>/dev/null && echo agentd-signalled || echo agentd-denied
    cat /proc/$(pidof agentd)/environ >/dev/null 2>&1 && echo agentd-inspected || echo agentd-uninspectable
    cat /proc/1/mem >/dev/null 2>&1 && echo init-inspected || echo init-uninspectable
    cat /root-only.txt >/dev/null 2>&1 && echo file-read || echo file-denied`;
  expect((await sh(script, "sandbox")).out.split("\n").filter(Boolean)).toEqual([
    "port-denied",
    "init-denied",
    "agentd-denied",
    "agentd-uninspectable",
    "init-uninspectable",
    "file-denied",
  ]);
});

test("a spawned child holds only descriptors 0, 1 and 2, with pipes and with a terminal", async () => {
  for (const tty of [false, true]) {
    const h = c.exec("sleep", ["30"], { tty });
    const pid = await h.started;
    // Looked at from another process: a shell listing its own fds would see its listing's fd.
    // With a terminal, started can come while the exec helper still runs (it briefly opens
    // /proc/self/oom_score_adj): look once the command itself is running.
    const listing = `i=0; while [ $i -lt 500 ] && readlink /proc/${pid}/exe | grep -q agentd-exec; do i=$((i+1)); done; ls /proc/${pid}/fd | tr '\\n' ' '`;
    expect((await sh(listing)).out).toBe("0 1 2 ");
    h.signal(9);
    await h.exited;
  }
});

test("every agentd descriptor beyond stdio is close-on-exec (PTY masters included)", async () => {
  const tty = c.exec("sleep", ["30"], { tty: true });
  await tty.started;
  const r = await sh(
    // A descriptor agentd closes between the listing and the read (a finished session's pipe)
    // has no fdinfo any more: it is skipped, as nothing can inherit it.
    `p=$(pidof agentd); for f in /proc/$p/fdinfo/*; do n=\${f##*/}; [ $n -le 2 ] && continue; fl=$(grep flags $f 2>/dev/null | awk '{print $2}'); [ -n "$fl" ] || continue; echo "$n $(readlink /proc/$p/fd/$n) $fl"; done`,
  );
  const lines = r.out.trim().split("\n");
  expect(lines.length).toBeGreaterThan(3);
  expect(lines.some((l) => l.includes("/dev/ptmx"))).toBe(true);
  for (const line of lines) {
    const flags = parseInt(line.split(" ").pop()!, 8);
    expect({ line, cloexec: (flags & 0o2000000) !== 0 }).toEqual({ line, cloexec: true });
  }
  tty.signal(9);
  await tty.exited;
});

test("agentd and init are shielded from the OOM killer; a memory hog is killed and exec keeps working", async () => {
  const scores = await sh(
    "cat /proc/1/oom_score_adj /proc/$(pidof agentd)/oom_score_adj /proc/$$/oom_score_adj",
  );
  expect(scores.out).toBe("-1000\n-999\n0\n");
  // A string that doubles forever: it grows until the kernel kills the process holding it.
  const hog = c.exec("awk", ['BEGIN { s = "x"; while (1) s = s s; print "survived" }']);
  await hog.started;
  await Bun.sleep(1500);
  expect((await sh("echo during")).out).toBe("during\n");
  const r = await hog.collect();
  expect(text(r.stdout)).not.toContain("survived");
  expect((await sh("dmesg | grep 'Killed process' | tail -1")).out).toContain("(awk)");
  expect(r).toMatchObject({ code: -1, signal: 9 });
  expect((await sh("echo after")).out).toBe("after\n");
  expect((await sh("pidof agentd")).out).toMatch(/^\d+\n$/);
}, 480_000);
