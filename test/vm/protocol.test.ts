/**
 * The protocol against the real guest: init + agentd + kernel, through the virtio port. Exec,
 * stdin, exit codes, signals, every fs operation, bad input, and 256 MiB streams with checksums.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { AgentClient } from "../../src/host/client.ts";
import { bootGuest, text, type Guest } from "./harness.ts";
import { remoteError } from "../support.ts";

const MiB = 1024 * 1024;
let guest: Guest;
let client: AgentClient;

beforeAll(async () => {
  guest = await bootGuest();
  client = await guest.connect();
}, 120_000);
afterAll(async () => {
  client?.close();
  await guest?.stop();
}, 60_000);

async function sh(script: string): Promise<{ code: number; out: string; err: string }> {
  const r = await client.exec("sh", ["-c", script]).collect();
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

describe("exec in the guest", () => {
  test("runs in the guest kernel with the guest's users", async () => {
    const r = await sh("uname -r; id -u; cat /etc/passwd | cut -d: -f1 | tr '\\n' ' '");
    expect(r.out).toMatch(/cloud-amd64\n0\nroot sandbox nobody $/);
  });
  test("stdout, stderr and exit codes", async () => {
    expect(await sh("echo out; echo err >&2; exit 42")).toEqual({ code: 42, out: "out\n", err: "err\n" });
  });
  test("a spawn failure is a stderr line and exited -1 with no started", async () => {
    const h = client.exec("/no/such");
    await expect(h.started).rejects.toThrow("cannot run '/no/such'");
    expect((await h.collect()).code).toBe(-1);
  });
  test("stdin streams and closes", async () => {
    const h = client.exec("sha256sum");
    const hash = createHash("sha256");
    for (let i = 0; i < 8; i++) {
      const b = new Uint8Array(MiB).fill(i * 3 + 1);
      hash.update(b);
      await h.write(b);
    }
    await h.closeStdin();
    expect(text((await h.collect()).stdout).split(" ")[0]).toBe(hash.digest("hex"));
  });
  test("signals go to the process group; death by signal is -1 plus signal", async () => {
    const h = client.exec("sh", ["-c", "sleep 50 | sleep 51"]);
    await h.started;
    await Bun.sleep(200);
    h.signal(15);
    expect(await h.exited).toEqual({ code: -1, signal: 15 });
    expect((await sh("pgrep -f 'sleep 5[01]' || echo none")).out).toBe("none\n");
  });
  test("a background child does not hold the session", async () => {
    const t = performance.now();
    expect((await sh("sleep 60 & echo hi")).out).toBe("hi\n");
    expect(performance.now() - t).toBeLessThan(3000);
  });
  test("PATH starts with /.msb/scripts and HOME is root's", async () => {
    expect((await sh('echo "$PATH|$HOME"')).out).toMatch(/^\/\.msb\/scripts:[^|]+\|\/root\n$/);
  });
  test("a tty session has the requested size", async () => {
    const r = await client.exec("sh", ["-c", "stty size"], { tty: true, rows: 31, cols: 77 }).collect();
    expect(text(r.stdout)).toContain("31 77");
  });
  test("user and rlimits through the exec helper", async () => {
    const r = await client
      .exec("sh", ["-c", "id -u; id -g; id -G; ulimit -n"], {
        user: "sandbox",
        rlimits: [{ resource: "nofile", soft: 77, hard: 88 }],
      })
      .collect();
    expect(text(r.stdout)).toBe("1000\n1000\n1000 100\n77\n");
  });
});

describe("fs operations in the guest", () => {
  test("Write, Stat, Read, List", async () => {
    await client.writeFile("/tmp/t/a/file.txt", "guest data\n", 0o640);
    const st = await client.stat("/tmp/t/a/file.txt");
    expect(st).toMatchObject({ path: "/tmp/t/a/file.txt", kind: "file", size: 11, mode: 0o100640 });
    expect(text(await client.readFile("/tmp/t/a/file.txt"))).toBe("guest data\n");
    expect((await client.list("/tmp/t/a")).map((e) => e.path)).toEqual(["/tmp/t/a/file.txt"]);
    expect((await sh("cat /tmp/t/a/file.txt")).out).toBe("guest data\n");
  });
  test("Mkdir, Copy (recursive), Rename, Remove, RemoveDir", async () => {
    await client.mkdir("/tmp/t/m/n");
    await client.copy("/tmp/t/a", "/tmp/t/m/n/copy");
    expect((await sh("cat /tmp/t/m/n/copy/file.txt")).out).toBe("guest data\n");
    await client.rename("/tmp/t/m/n/copy/file.txt", "/tmp/t/z/moved.txt");
    await client.remove("/tmp/t/z/moved.txt");
    await client.removeDir("/tmp/t");
    expect((await sh("ls /tmp/t 2>&1; echo $?")).out).toContain("No such file");
  });
  test("error prefixes", async () => {
    expect(await remoteError(client.stat("/nope"))).toMatch(
      /^stat: No such file or directory \(os error 2\)$/,
    );
    expect(await remoteError(client.list("/nope"))).toMatch(/^opendir: /);
    expect(await remoteError(client.readFile("/nope"))).toMatch(/^open: /);
    expect(await remoteError(client.readFile("/etc"))).toMatch(/^read: /);
    expect(await remoteError(client.mkdir("/etc/passwd"))).toMatch(/^mkdir: /);
    expect(await remoteError(client.remove("/nope"))).toMatch(/^remove: /);
    expect(await remoteError(client.removeDir("/nope"))).toMatch(/^remove_dir: /);
    expect(await remoteError(client.copy("/nope", "/tmp/x"))).toMatch(/^copy: /);
    expect(await remoteError(client.rename("/nope", "/tmp/x"))).toMatch(/^rename: /);
    expect(await remoteError(client.writeFile("/etc/passwd/x", "y"))).toMatch(/^mkdir parent: /);
  });
});

describe("bad input through the port", () => {
  test("an oversized frame, bad CBOR and an unknown type leave the agent serving", async () => {
    const big = new Uint8Array(8);
    new DataView(big.buffer).setUint32(0, 5 * MiB);
    await client.sendRaw(big);
    for (let left = 5 * MiB - 4; left > 0; left -= MiB)
      await client.sendRaw(new Uint8Array(Math.min(MiB, left)));
    await client.sendRaw(Uint8Array.of(0, 0, 0, 8, 0, 0, 0, 9, 0, 0xa3, 0xff, 0xff));
    expect((await sh("echo alive")).out).toBe("alive\n");
  });
});

describe("256 MiB streams", () => {
  test("through stdout, checked with SHA-256 on both sides", async () => {
    // The guest hashes the file it then streams; the host hashes what arrives.
    const h = client.exec("sh", [
      "-c",
      "head -c 268435456 /dev/urandom > /tmp/stream.bin && sha256sum /tmp/stream.bin >&2 && cat /tmp/stream.bin",
    ]);
    const hash = createHash("sha256");
    let n = 0;
    let guestSum = "";
    for await (const o of h.output) {
      if (o.stream === "stdout") {
        hash.update(o.data);
        n += o.data.length;
      } else guestSum += text(o.data);
    }
    expect(n).toBe(256 * MiB);
    expect(guestSum.split(" ")[0]).toBe(hash.digest("hex"));
    await sh("rm -f /tmp/stream.bin");
  }, 300_000);

  test("through fs write and fs read, checked with SHA-256", async () => {
    const sent = createHash("sha256");
    async function* source() {
      let x = 12345;
      for (let i = 0; i < 256; i++) {
        const b = new Uint32Array(MiB / 4);
        for (let j = 0; j < b.length; j++) b[j] = x = (x * 1103515245 + 12345) >>> 0;
        const bytes = new Uint8Array(b.buffer);
        sent.update(bytes);
        yield bytes;
      }
    }
    await client.writeFile("/tmp/upload.bin", source());
    const digest = sent.digest("hex");
    expect((await sh("sha256sum /tmp/upload.bin")).out.split(" ")[0]).toBe(digest);
    const back = createHash("sha256");
    for await (const c of client.read("/tmp/upload.bin")) back.update(c);
    expect(back.digest("hex")).toBe(digest);
    await sh("rm -f /tmp/upload.bin");
  }, 300_000);
});
