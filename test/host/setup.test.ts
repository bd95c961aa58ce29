/**
 * Guest setup steps on this machine without changing it: the compiled agentd runs
 * `--setup-only --steps ...` inside fresh mount, UTS and network namespaces (a veth pair into a
 * namespace of our own for the interface), and the test reads the result from inside. File-only
 * steps (CA, profile) run on fixture trees laid out like Debian, RHEL and Alpine.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installCa } from "../../src/setup/steps/ca.ts";
import { writeHostFiles } from "../../src/setup/steps/hostname.ts";
import { addProfileBlock, PROFILE_BLOCK } from "../../src/setup/steps/profile.ts";
import { AGENTD } from "./harness.ts";

let dir: string;
/** A private /etc for the namespaces, so /etc/hosts and /etc/resolv.conf writes stay there. */
let etc: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "agentd-setup-"));
  etc = join(dir, "etc");
  mkdirSync(etc);
  for (const f of ["ld.so.cache", "passwd", "group", "nsswitch.conf"])
    if (existsSync(`/etc/${f}`)) copyFileSync(`/etc/${f}`, join(etc, f));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function inNamespaces(
  unshareFlags: string[],
  script: string,
  env: Record<string, string>,
): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(
    [
      "unshare",
      ...unshareFlags,
      "--propagation",
      "private",
      "sh",
      "-ec",
      `mount --bind "${etc}" /etc\n${script}`,
    ],
    {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", AGENTD: AGENTD, ...env },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("tmpfs (mount namespace)", () => {
  test("size, mode and noexec as asked, nosuid and nodev always", () => {
    const a = join(dir, "t-a");
    const b = join(dir, "t-b");
    const r = inNamespaces(
      ["-m"],
      `"$AGENTD" --setup-only --steps tmpfs\ngrep -E " (${a}|${b}) " /proc/self/mountinfo\nstat -c '%n %a' ${a} ${b}`,
      {
        MSB_TMPFS: `${a},size=8,noexec;${b},mode=700`,
      },
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    const ma = lines.find((l) => l.includes(` ${a} `))!;
    const mb = lines.find((l) => l.includes(` ${b} `))!;
    expect(ma).toMatch(/ rw,nosuid,nodev,noexec,relatime( .*)? - tmpfs tmpfs rw,size=8192k/);
    expect(mb).toMatch(/ rw,nosuid,nodev,relatime( .*)? - tmpfs tmpfs rw,mode=700/);
    expect(mb).not.toContain("noexec");
    expect(r.out).toContain(`${a} 755\n`);
    expect(r.out).toContain(`${b} 700\n`);
  });
  test("a tmpfs that cannot be mounted is a setup failure naming the step (exit 78)", () => {
    const r = inNamespaces(["-m"], `"$AGENTD" --setup-only --steps tmpfs`, {
      MSB_TMPFS: "/proc/self/nope/x",
    });
    expect(r.code).toBe(78);
    expect(r.err).toMatch(/^agentd: setup failed: tmpfs mounts: /);
  });
  test("a grammar error fails before any change, naming the variable", () => {
    const r = inNamespaces(["-m"], `"$AGENTD" --setup-only --steps tmpfs`, {
      MSB_TMPFS: `${join(dir, "never")},size=big`,
    });
    expect(r.code).toBe(78);
    expect(r.err).toContain("agentd: setup failed: configuration: MSB_TMPFS: entry");
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});

describe("hostname (UTS + mount namespace)", () => {
  test("sethostname, /etc/hostname and /etc/hosts", () => {
    const r = inNamespaces(
      ["-m", "-u"],
      `"$AGENTD" --setup-only --steps hostname\nhostname\ncat /etc/hostname /etc/hosts`,
      { MSB_HOSTNAME: "sandbox-7" },
    );
    expect(r.err).toBe("");
    expect(r.out).toBe(
      "sandbox-7\nsandbox-7\n127.0.0.1\tlocalhost sandbox-7\n::1\tlocalhost ip6-localhost ip6-loopback sandbox-7\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    expect(readFileSync("/proc/sys/kernel/hostname", "utf8").trim()).not.toBe("sandbox-7");
  });
  test("without MSB_HOSTNAME, /etc/hosts is still rewritten", () => {
    const r = inNamespaces(["-m", "-u"], `"$AGENTD" --setup-only --steps hostname\nhead -1 /etc/hosts`, {});
    expect(r.out).toBe("127.0.0.1\tlocalhost\n");
  });
  test("a root without /etc gets one with its hosts and hostname files (a failed write makes it)", () => {
    const root = join(dir, "no-etc-root");
    mkdirSync(root);
    writeHostFiles(root, "box");
    expect(readFileSync(join(root, "etc", "hostname"), "utf8")).toBe("box\n");
    expect(readFileSync(join(root, "etc", "hosts"), "utf8").split("\n")[0]).toBe("127.0.0.1\tlocalhost box");
    // A root whose /etc is a file: the write's own error, not a quiet mkdir.
    const bad = join(dir, "etc-is-a-file");
    mkdirSync(bad);
    writeFileSync(join(bad, "etc"), "");
    expect(() => writeHostFiles(bad, null)).toThrow("ENOTDIR");
  });
});

describe("network (a veth into a network namespace of our own)", () => {
  const ns = `agentd-t${process.pid}`;
  const host = `agv${process.pid % 100000}a`;
  const guest = `agv${process.pid % 100000}b`;
  beforeAll(() => {
    for (const cmd of [
      ["ip", "netns", "add", ns],
      ["ip", "link", "add", host, "type", "veth", "peer", "name", guest],
      ["ip", "link", "set", guest, "netns", ns],
      ["ip", "link", "set", host, "up"],
    ]) {
      const p = Bun.spawnSync(cmd, { stderr: "pipe" });
      if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${p.stderr}`);
    }
  });
  afterAll(() => {
    Bun.spawnSync(["ip", "link", "del", host]);
    Bun.spawnSync(["ip", "netns", "del", ns]);
  });

  test("loopback, MAC, MTU, IPv4 and IPv6 (not tentative), default routes and resolv.conf", () => {
    const p = Bun.spawnSync(
      [
        "ip",
        "netns",
        "exec",
        ns,
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-ec",
        `mount --bind "${etc}" /etc\n"$AGENTD" --setup-only --steps network\nip -j addr show\necho ---\nip -j route show\necho ---\nip -6 -j route show\necho ---\ncat /etc/resolv.conf`,
      ],
      {
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          AGENTD,
          MSB_NET: `iface=${guest},mac=02:5a:7b:13:01:02,mtu=1400`,
          MSB_NET_IPV4: "addr=10.213.7.2/24,gw=10.213.7.1,dns=10.213.7.53",
          MSB_NET_IPV6: "addr=fd42:6d73:62:2a::2/64,gw=fd42:6d73:62:2a::1,dns=fd42:6d73:62:2a::53",
        },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
    const [addrs, routes4, routes6, resolv] = p.stdout.toString().split("---\n");
    const links = JSON.parse(addrs!);
    const lo = links.find((l: { ifname: string }) => l.ifname === "lo");
    expect(lo.flags).toContain("UP");
    expect(lo.addr_info.map((a: { local: string }) => a.local).sort()).toEqual(["127.0.0.1", "::1"]);
    const eth = links.find((l: { ifname: string }) => l.ifname === guest);
    expect(eth.address).toBe("02:5a:7b:13:01:02");
    expect(eth.mtu).toBe(1400);
    expect(eth.flags).toContain("UP");
    const v4 = eth.addr_info.find((a: { family: string }) => a.family === "inet");
    expect([v4.local, v4.prefixlen]).toEqual(["10.213.7.2", 24]);
    const v6 = eth.addr_info.find(
      (a: { family: string; scope: string }) => a.family === "inet6" && a.scope === "global",
    );
    expect([v6.local, v6.prefixlen]).toEqual(["fd42:6d73:62:2a::2", 64]);
    expect(v6.tentative).toBeUndefined();
    expect(v6.dadfailed).toBeUndefined();
    expect(JSON.parse(routes4!)).toContainEqual(
      expect.objectContaining({ dst: "default", gateway: "10.213.7.1", dev: guest }),
    );
    expect(JSON.parse(routes6!)).toContainEqual(
      expect.objectContaining({ dst: "default", gateway: "fd42:6d73:62:2a::1", dev: guest }),
    );
    expect(resolv).toBe("nameserver 10.213.7.53\nnameserver fd42:6d73:62:2a::53\n");
  });

  test("a missing interface is a setup failure naming it", () => {
    const p = Bun.spawnSync(
      ["ip", "netns", "exec", ns, "sh", "-c", `"$AGENTD" --setup-only --steps network`],
      {
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          AGENTD,
          MSB_NET: "iface=nope0,mac=02:00:00:00:00:01",
        },
        stderr: "pipe",
      },
    );
    expect(p.exitCode).toBe(78);
    expect(p.stderr.toString()).toMatch(/agentd: setup failed: network: .*nope0/);
  });
});

describe("CA certificate on fixture trees", () => {
  const CA = "-----BEGIN CERTIFICATE-----\nMIIBfixtureCA\n-----END CERTIFICATE-----\n";
  const layouts: [string, string[], string[], string][] = [
    [
      "Debian",
      ["/usr/local/share/ca-certificates", "/etc/ssl/certs"],
      ["/etc/ssl/certs/ca-certificates.crt"],
      "/etc/ssl/certs/ca-certificates.crt",
    ],
    [
      "RHEL",
      ["/etc/pki/ca-trust/source/anchors", "/etc/pki/tls/certs"],
      ["/etc/pki/tls/certs/ca-bundle.crt"],
      "/etc/pki/tls/certs/ca-bundle.crt",
    ],
    ["Alpine", ["/usr/local/share/ca-certificates", "/etc/ssl"], ["/etc/ssl/cert.pem"], "/etc/ssl/cert.pem"],
    ["bare (no store)", [], [], "/etc/ssl/certs/ca-certificates.crt"],
  ];
  test.each(layouts)(
    "%s: copied into trust dirs, appended to the bundle once, env exported",
    (_name, dirs, bundles, expected) => {
      const root = mkdtempSync(join(dir, "ca-"));
      for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
      for (const b of bundles) writeFileSync(join(root, b), "EXISTING-CERT\n");
      mkdirSync(join(root, ".msb/tls"), { recursive: true });
      writeFileSync(join(root, ".msb/tls/ca.pem"), CA);
      const first = installCa(root);
      const second = installCa(root);
      expect(first).toEqual(second);
      expect(first!.bundle).toBe(expected);
      expect(first!.env).toEqual({
        SSL_CERT_FILE: expected,
        REQUESTS_CA_BUNDLE: expected,
        CURL_CA_BUNDLE: expected,
        NODE_EXTRA_CA_CERTS: "/.msb/tls/ca.pem",
      });
      const bundle = readFileSync(join(root, expected), "utf8");
      expect(bundle.split("MIIBfixtureCA").length - 1).toBe(1);
      if (bundles.length) expect(bundle.startsWith("EXISTING-CERT\n")).toBe(true);
      for (const d of dirs.filter((d) => d.includes("ca-certificates") || d.includes("anchors"))) {
        expect(readFileSync(join(root, d, "microsandbox-ca.pem"), "utf8")).toBe(CA);
      }
    },
  );
  test("no CA file: nothing to do", () => {
    expect(installCa(mkdtempSync(join(dir, "noca-")))).toBeNull();
  });
});

describe("/etc/profile", () => {
  test("the scripts-path block is appended once, after existing content", () => {
    const root = mkdtempSync(join(dir, "profile-"));
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc/profile"), "export EXISTING=1");
    addProfileBlock(root);
    addProfileBlock(root);
    expect(readFileSync(join(root, "etc/profile"), "utf8")).toBe("export EXISTING=1\n" + PROFILE_BLOCK);
  });
  test("a missing /etc/profile is created with the block", () => {
    const root = mkdtempSync(join(dir, "profile-"));
    addProfileBlock(root);
    expect(readFileSync(join(root, "etc/profile"), "utf8")).toBe(PROFILE_BLOCK);
  });
});
