/**
 * Guest setup in the real VM: shares, tmpfs, hostname, network on QEMU user networking, the CA
 * and MSB_USER in one guest; a block-device root (ext4 made with mkfs.ext4 -d) with and without
 * fstype=; and for each variable one malformed value, which must power the guest off cleanly.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentClient } from "../../src/host/client.ts";
import { CACHE_DIR } from "../../src/host/paths.ts";
import { bootGuest, text, type Guest } from "./harness.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBvmtestCA\n-----END CERTIFICATE-----\n";

async function sh(
  c: AgentClient,
  script: string,
  user?: string,
): Promise<{ code: number; out: string; err: string }> {
  const r = await c.exec("sh", ["-c", script], user ? { user } : {}).collect();
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

describe("shares, tmpfs, hostname, network, CA and MSB_USER", () => {
  let guest: Guest;
  let c: AgentClient;
  let host: string;
  let server: ReturnType<typeof Bun.serve>;

  beforeAll(async () => {
    host = mkdtempSync(join(tmpdir(), "agentd-vm-setup-"));
    for (const d of ["rw", "ro", "files"]) mkdirSync(join(host, d));
    writeFileSync(join(host, "ro", "existing.txt"), "read only\n");
    writeFileSync(join(host, "files", "app.conf"), "setting=1\n");
    writeFileSync(join(host, "files", "secret.txt"), "do not change\n");
    chmodSync(join(host, "rw"), 0o777);
    const state = join(host, "state");
    mkdirSync(join(state, "runtime", "tls"), { recursive: true });
    writeFileSync(join(state, "runtime", "tls", "ca.pem"), CA);
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response("hello from the host\n"),
    });
    guest = await bootGuest({
      stateDir: state,
      net: true,
      shares: [
        { tag: "rwshare", hostDir: join(host, "rw") },
        { tag: "roshare", hostDir: join(host, "ro") },
        { tag: "files", hostDir: join(host, "files") },
      ],
      env: [
        "MSB_DIR_MOUNTS=rwshare:/mnt/rw;roshare:/mnt/ro:ro",
        "MSB_FILE_MOUNTS=files:app.conf:/etc/app/app.conf;files:secret.txt:/opt/secret.txt:ro",
        "MSB_TMPFS=/scratch,size=16,noexec;/var/tmp,size=8",
        "MSB_HOSTNAME=vm-box-1",
        "MSB_NET=iface=eth0,mac=02:5a:7b:13:01:02,mtu=1400",
        "MSB_NET_IPV4=addr=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3",
        "MSB_NET_IPV6=addr=fec0::15/64,gw=fec0::2,dns=fec0::3",
        "MSB_USER=sandbox",
      ],
    });
    c = await guest.connect();
  }, 180_000);
  afterAll(async () => {
    c?.close();
    await guest?.stop();
    server?.stop(true);
    rmSync(host, { recursive: true, force: true });
  }, 60_000);

  test("MSB_DIR_MOUNTS: a read-write share takes writes the host sees; a read-only one refuses them", async () => {
    expect((await sh(c, "echo from-guest > /mnt/rw/new.txt && cat /mnt/ro/existing.txt")).out).toBe(
      "read only\n",
    );
    expect(readFileSync(join(host, "rw", "new.txt"), "utf8")).toBe("from-guest\n");
    const ro = await sh(c, "echo x > /mnt/ro/nope.txt", "root");
    expect(ro.code).not.toBe(0);
    expect(ro.err).toContain("Read-only file system");
    expect((await sh(c, "grep ' /mnt/rw ' /proc/self/mountinfo")).out).toMatch(
      / rw,nosuid,nodev,relatime .*- virtiofs rwshare /,
    );
  });

  test("MSB_FILE_MOUNTS: single files, read-write and read-only; the staging mount is gone", async () => {
    const r = await sh(
      c,
      "cat /etc/app/app.conf; echo setting=2 > /etc/app/app.conf; cat /opt/secret.txt",
      "root",
    );
    expect(r.out).toBe("setting=1\ndo not change\n");
    expect(readFileSync(join(host, "files", "app.conf"), "utf8")).toBe("setting=2\n");
    const ro = await sh(c, "echo changed > /opt/secret.txt", "root");
    expect(ro.err).toContain("Read-only file system");
    expect(readFileSync(join(host, "files", "secret.txt"), "utf8")).toBe("do not change\n");
    expect((await sh(c, "grep -c file-mounts /proc/self/mountinfo || true")).out.trim()).toBe("0");
  });

  test("MSB_TMPFS", async () => {
    const r = await sh(
      c,
      "grep -E ' /(scratch|var/tmp) ' /proc/self/mountinfo; stat -c '%a' /var/tmp /scratch",
    );
    expect(r.out).toMatch(/ \/scratch rw,nosuid,nodev,noexec,relatime( .*)? - tmpfs tmpfs rw,size=16384k/);
    expect(r.out).toMatch(/ \/var\/tmp rw,nosuid,nodev,relatime( .*)? - tmpfs tmpfs rw,size=8192k/);
    expect(r.out).toContain("1777\n755\n");
  });

  test("fs read of the same bytes from a share (the main thread reads it) and from a tmpfs (the port thread copies it): both byte for byte", async () => {
    // Not a multiple of either path's frame (256 KiB on the main thread, 1 MiB on the port
    // thread), so the last frame is short in both.
    const bytes = new Uint8Array(3 * 1024 * 1024 + 12345).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(join(host, "rw", "big.bin"), bytes);
    const r = await sh(c, "cp /mnt/rw/big.bin /scratch/big.bin && stat -f -c %T /mnt/rw /scratch", "root");
    const [share, scratch] = r.out.split("\n");
    expect(share).not.toMatch(/^(tmpfs|ramfs)$/);
    expect(scratch).toBe("tmpfs");
    for (const path of ["/mnt/rw/big.bin", "/scratch/big.bin"]) {
      const parts: Uint8Array[] = [];
      for await (const chunk of c.read(path)) parts.push(chunk);
      expect(Buffer.concat(parts).equals(Buffer.from(bytes))).toBe(true);
    }
    // An empty file on tmpfs: no data, a clean end.
    expect((await sh(c, "rm /scratch/big.bin && : > /scratch/empty", "root")).code).toBe(0);
    const none: Uint8Array[] = [];
    for await (const chunk of c.read("/scratch/empty")) none.push(chunk);
    expect(Buffer.concat(none).length).toBe(0);
  });

  // init mounts these and brings lo up while Bun starts, and agentd's first setup step checks and
  // skips what is done: each must still be there once, with PROTOCOL.md §8.1's options.
  test("§8.1's kernel filesystems are each mounted once with their options; /dev/fd; lo up with both addresses", async () => {
    const r = await sh(c, "cat /proc/self/mountinfo; readlink /dev/fd; ip addr show dev lo");
    const mounts = r.out
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f.length > 6 && f.includes("-"))
      .map((f) => {
        const dash = f.indexOf("-");
        return { target: f[4]!, options: f[5]!.split(","), type: f[dash + 1]!, fsOptions: f[dash + 3] ?? "" };
      });
    const expected: [string, string, string[]][] = [
      ["/dev", "devtmpfs", ["nosuid"]],
      ["/proc", "proc", ["nosuid", "nodev", "noexec"]],
      ["/sys", "sysfs", ["nosuid", "nodev", "noexec", "relatime"]],
      ["/sys/fs/cgroup", "cgroup2", ["nosuid", "nodev", "noexec", "relatime"]],
      ["/dev/pts", "devpts", ["nosuid", "noexec", "relatime"]],
      ["/dev/shm", "tmpfs", ["nosuid", "nodev", "noexec", "relatime"]],
    ];
    for (const [target, type, options] of expected) {
      const at = mounts.filter((m) => m.target === target);
      expect(at.map((m) => m.type)).toEqual([type]);
      for (const o of options) expect(at[0]!.options).toContain(o);
    }
    expect(mounts.find((m) => m.target === "/dev/pts")!.fsOptions).toContain("ptmxmode=666");
    expect(r.out).toContain("\n/proc/self/fd\n");
    expect(r.out).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
    expect(r.out).toContain("inet 127.0.0.1/8 scope host lo");
    expect(r.out).toContain("inet6 ::1/128 scope host");
  });

  test("MSB_HOSTNAME", async () => {
    const r = await sh(c, "hostname; cat /etc/hostname; head -2 /etc/hosts");
    expect(r.out).toBe(
      "vm-box-1\nvm-box-1\n127.0.0.1\tlocalhost vm-box-1\n::1\tlocalhost ip6-localhost ip6-loopback vm-box-1\n",
    );
  });

  test("MSB_NET: MAC, MTU, addresses, routes, resolv.conf, and the host reached through the gateway", async () => {
    const r = await sh(
      c,
      "cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu; ip -4 addr show eth0; ip -6 addr show eth0; ip route; ip -6 route; cat /etc/resolv.conf",
    );
    expect(r.out).toContain("02:5a:7b:13:01:02\n1400\n");
    expect(r.out).toContain("inet 10.0.2.15/24");
    expect(r.out).toContain("inet6 fec0::15/64");
    // The configured address is usable at once (no DAD); the link-local one the kernel adds
    // may still be in its DAD second when a fast boot's first command arrives.
    expect(r.out).not.toMatch(/fec0::15\/64[^\n]*tentative/);
    expect(r.out).toMatch(/default via 10\.0\.2\.2 dev eth0/);
    expect(r.out).toMatch(/default via fec0::2 dev eth0/);
    expect(r.out).toContain("nameserver 10.0.2.3\nnameserver fec0::3\n");
    const web = await sh(c, `wget -q -O - http://10.0.2.2:${server.port}/`);
    expect(web.out).toBe("hello from the host\n");
  });

  test("the CA ends up in the bundle and in SSL_CERT_FILE of an exec", async () => {
    const r = await sh(
      c,
      'echo "$SSL_CERT_FILE|$REQUESTS_CA_BUNDLE|$CURL_CA_BUNDLE|$NODE_EXTRA_CA_CERTS"; grep -c MIIBvmtestCA "$SSL_CERT_FILE"',
    );
    expect(r.out).toBe(
      "/etc/ssl/certs/ca-certificates.crt|/etc/ssl/certs/ca-certificates.crt|/etc/ssl/certs/ca-certificates.crt|/.msb/tls/ca.pem\n1\n",
    );
  });

  test("MSB_USER is the default exec user; the request's user wins", async () => {
    expect((await sh(c, "id -un; echo $HOME")).out).toBe("sandbox\n/home/sandbox\n");
    expect((await sh(c, "id -u", "root")).out).toBe("0\n");
  });

  test("/etc/profile puts /.msb/scripts on PATH for login shells; /tmp and /run exist", async () => {
    const r = await sh(
      c,
      "grep -c 'microsandbox scripts path' /etc/profile; stat -c '%a' /tmp; test -d /run && echo run",
    );
    expect(r.out).toBe("2\n1777\nrun\n");
  });
});

/** An ext4 image with busybox, its own users and a marker, made with mkfs.ext4 -d. */
function makeRootImage(dir: string): string {
  const root = join(dir, "rootfs");
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root"])
    mkdirSync(join(root, d), { recursive: true });
  copyFileSync(join(CACHE_DIR, "pkgs", "busybox-static", "bin", "busybox"), join(root, "bin", "busybox"));
  chmodSync(join(root, "bin", "busybox"), 0o755);
  for (const a of [
    "sh",
    "cat",
    "ls",
    "id",
    "echo",
    "grep",
    "kill",
    "pidof",
    "sleep",
    "stat",
    "hostname",
    "touch",
    "test",
    "pgrep",
  ])
    symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(
    join(root, "etc", "passwd"),
    "root:x:0:0:root:/root:/bin/sh\nimageuser:x:4242:4242:from the image:/home/imageuser:/bin/sh\n",
  );
  writeFileSync(join(root, "etc", "group"), "root:x:0:\nimagegroup:x:4242:\n");
  writeFileSync(join(root, "image-marker"), "this is the block root\n");
  const image = join(dir, "root.ext4");
  const p = Bun.spawnSync(["mkfs.ext4", "-q", "-F", "-d", root, image, "64M"], { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`mkfs.ext4: ${p.stderr}`);
  return image;
}

describe.each([
  ["without fstype", "/dev/vda"],
  ["with fstype=ext4", "/dev/vda,fstype=ext4"],
])("MSB_BLOCK_ROOT %s", (_name, value) => {
  let guest: Guest;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "agentd-vm-root-"));
    guest = await bootGuest({ disk: makeRootImage(dir), env: [`MSB_BLOCK_ROOT=${value}`] });
  }, 180_000);
  afterAll(async () => {
    await guest?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("exec sees the image's files and users; /.msb, /proc and /dev are there", async () => {
    const c = await guest.connect();
    try {
      // The heartbeat's first beat comes AFTER_READY_DEFER_MS after core.ready, so a command
      // sent at once runs before it: wait for it (up to 5 s; it beats every second).
      const r = await sh(
        c,
        "cat /image-marker; i=0; while [ $i -lt 50 ] && [ ! -e /.msb/heartbeat.json ]; do sleep 0.1; i=$((i+1)); done; ls /.msb/heartbeat.json; cat /proc/self/stat >/dev/null && echo proc; test -c /dev/null && echo dev; grep ' / ' /proc/self/mountinfo",
      );
      expect(r.out).toMatch(
        /^this is the block root\n\/\.msb\/heartbeat\.json\nproc\ndev\n.* \/ .* - ext4 \/dev\/vda /,
      );
      expect((await sh(c, "id", "imageuser")).out).toBe(
        "uid=4242(imageuser) gid=4242(imagegroup) groups=4242(imagegroup)\n",
      );
      // The new root has its own kernel filesystems (init's stayed in the initramfs root).
      expect(
        (await sh(c, "grep -cE ' /(sys|sys/fs/cgroup|dev/pts|dev/shm) ' /proc/self/mountinfo")).out,
      ).toBe("4\n");
    } finally {
      // A failure above must not leave this client holding the guest (agentd serves one at a time).
      c.close();
      await c.closed();
    }
  });

  test("a restarted agentd serves in the new root", async () => {
    const c = await guest.connect();
    void c
      .exec("sh", ["-c", "kill -9 $(pidof agentd)"])
      .collect()
      .catch(() => {});
    await Bun.sleep(500);
    c.close();
    const d = await guest.connect();
    expect((await sh(d, "cat /image-marker; id -un", "imageuser")).out).toBe(
      "this is the block root\nimageuser\n",
    );
    d.close();
    await d.closed();
  }, 60_000);
});

describe("a malformed value powers the guest off cleanly with the message on the console", () => {
  const cases: [string, string][] = [
    ["MSB_BLOCK_ROOT=vda", 'MSB_BLOCK_ROOT: device "vda" must be an absolute path'],
    ["MSB_DIR_MOUNTS=data", 'MSB_DIR_MOUNTS: entry "data": expected tag:/path[:ro]'],
    ["MSB_FILE_MOUNTS=cfg:/etc/x", 'MSB_FILE_MOUNTS: entry "cfg:/etc/x": expected tag:file:/path[:ro]'],
    ["MSB_HOSTNAME=-bad-", 'MSB_HOSTNAME: "-bad-" is not a valid hostname'],
    ["MSB_TMPFS=/tmp,size=lots", 'MSB_TMPFS: entry "/tmp,size=lots": size must be a whole number of MiB'],
    ["MSB_NET=iface=eth0", "MSB_NET: missing mac="],
    ["MSB_NET_IPV4=addr=10.0.2.15,gw=10.0.2.2", "MSB_NET_IPV4: addr"],
    ["MSB_NET_IPV6=addr=fec0::15/200,gw=fec0::2", "MSB_NET_IPV6"],
    ["MSB_USER=a:b:c", 'MSB_USER: "a:b:c" is not USER, UID, USER:GROUP or UID:GID'],
  ];
  test.each(cases)(
    "%s",
    async (env, message) => {
      const dir = mkdtempSync(join(tmpdir(), "agentd-vm-bad-"));
      try {
        let error = "";
        try {
          const g = await bootGuest({
            stateDir: dir,
            env: env.startsWith("MSB_NET_") ? ["MSB_NET=iface=eth0,mac=02:00:00:00:00:01", env] : [env],
          });
          await g.stop();
        } catch (e) {
          error = String(e);
        }
        expect(error).toContain("the guest stopped before it was ready");
        const log = readFileSync(join(dir, "console.log"), "utf8");
        expect(log).toContain("agentd: setup failed: configuration: " + message);
        expect(log).toContain("init: agentd reported a fatal setup error (see above); powering off");
        expect(log).toContain("reboot: Power down");
        expect(log).not.toContain("Kernel panic");
        expect(existsSync(join(dir, "runtime", "heartbeat.json"))).toBe(false);
      } finally {
        Bun.spawnSync(["pkill", "-f", `virtiofsd.*${dir}`]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

test("a step that cannot be done as asked (a share the host does not provide) powers off too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "agentd-vm-bad-"));
  try {
    await expect(bootGuest({ stateDir: dir, env: ["MSB_DIR_MOUNTS=nosuchtag:/mnt/x"] })).rejects.toThrow(
      "the guest stopped before it was ready",
    );
    const log = readFileSync(join(dir, "console.log"), "utf8");
    expect(log).toMatch(
      /agentd: setup failed: mount directory shares: mount\(virtiofs nosuchtag on \/mnt\/x\): E[A-Z]+: /,
    );
    expect(log).toContain("reboot: Power down");
    expect(log).not.toContain("Kernel panic");
  } finally {
    Bun.spawnSync(["pkill", "-f", `virtiofsd.*${dir}`]);
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
