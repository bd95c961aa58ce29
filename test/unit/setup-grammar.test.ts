/** Every MSB_* grammar: each valid form, and each invalid form with the message that names it. */
import { describe, expect, test } from "bun:test";
import {
  parseBlockRoot,
  parseDirMounts,
  parseFileMounts,
  parseHostname,
  parseIpv4Config,
  parseIpv6Config,
  parseNet,
  parseSetup,
  parseTmpfs,
  parseUserSpec,
} from "../../src/setup/grammar.ts";
import { parseIpv4, parseIpv6 } from "../../src/setup/ip.ts";
import { diskFilesystems } from "../../src/setup/steps/block-root.ts";
import { hostsFile } from "../../src/setup/steps/hostname.ts";
import { resolvConf } from "../../src/setup/steps/network.ts";
import { PROFILE_BLOCK } from "../../src/setup/steps/profile.ts";
import { tmpfsData } from "../../src/setup/steps/tmpfs.ts";
import { defaultRouteMessage, hasInet6Address, newAddrMessage } from "../../src/sys/netlink.ts";

const bad = (f: () => unknown, message: string) => expect(f).toThrow(message);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("MSB_BLOCK_ROOT", () => {
  test("device, with and without fstype", () => {
    expect(parseBlockRoot("/dev/vda")).toEqual({ device: "/dev/vda", fstype: null });
    expect(parseBlockRoot("/dev/vda,fstype=ext4")).toEqual({ device: "/dev/vda", fstype: "ext4" });
  });
  test.each([
    ["", "MSB_BLOCK_ROOT: missing device"],
    ["vda", 'MSB_BLOCK_ROOT: device "vda" must be an absolute path'],
    ["/dev/vda,fs=ext4", 'MSB_BLOCK_ROOT: entry "/dev/vda,fs=ext4": unknown option "fs=ext4"'],
    ["/dev/vda,fstype=EXT 4", 'MSB_BLOCK_ROOT: fstype "EXT 4" is not a filesystem type name'],
  ])("%p fails", (v, m) => bad(() => parseBlockRoot(v), m));
});

describe("MSB_DIR_MOUNTS", () => {
  test("tag:/path[:ro] entries separated by ;", () => {
    expect(parseDirMounts("data:/data;cache:/var/cache:ro;")).toEqual([
      { tag: "data", path: "/data", readonly: false },
      { tag: "cache", path: "/var/cache", readonly: true },
    ]);
  });
  test.each([
    ["data", 'entry "data": expected tag:/path[:ro]'],
    ["data:rel", 'path "rel" must be an absolute path'],
    ["data:/d:rw", 'unknown flag "rw"'],
    ["da ta:/d", 'bad tag "da ta"'],
    ["d:/a/../b", "must not contain '..'"],
  ])("%p fails", (v, m) => {
    bad(() => parseDirMounts(v), `MSB_DIR_MOUNTS: `);
    bad(() => parseDirMounts(v), m);
  });
});

describe("MSB_FILE_MOUNTS", () => {
  test("tag:file:/path[:ro]", () => {
    expect(parseFileMounts("cfg:app.conf:/etc/app.conf:ro;s:x:/x")).toEqual([
      { tag: "cfg", file: "app.conf", path: "/etc/app.conf", readonly: true },
      { tag: "s", file: "x", path: "/x", readonly: false },
    ]);
  });
  test.each([
    ["cfg:/etc/x", "expected tag:file:/path[:ro]"],
    ["cfg:a/b:/x", 'file "a/b" must be a plain file name'],
    ["cfg:..:/x", 'file ".." must be a plain file name'],
    ["cfg:f:/x:wo", 'unknown flag "wo"'],
  ])("%p fails", (v, m) => bad(() => parseFileMounts(v), m));
});

describe("MSB_HOSTNAME", () => {
  test("valid names", () => {
    expect(parseHostname("worker-01")).toBe("worker-01");
    expect(parseHostname("a.b.example")).toBe("a.b.example");
  });
  test.each(["-x", "a b", "x".repeat(65), "ünï", "a..b"])("%p fails", (v) =>
    bad(() => parseHostname(v), "MSB_HOSTNAME: "),
  );
});

describe("MSB_TMPFS", () => {
  test("path with size, mode and noexec in any order", () => {
    expect(parseTmpfs("/tmp,size=256;/var/tmp,size=128,noexec;/scratch,mode=700")).toEqual([
      { path: "/tmp", sizeMiB: 256, mode: null, noexec: false },
      { path: "/var/tmp", sizeMiB: 128, mode: null, noexec: true },
      { path: "/scratch", sizeMiB: null, mode: 0o700, noexec: false },
    ]);
  });
  test("the mount data carries bytes and octal mode, 1777 by default for /tmp", () => {
    expect(tmpfsData({ path: "/tmp", sizeMiB: 2, mode: null, noexec: false })).toBe("size=2097152,mode=1777");
    expect(tmpfsData({ path: "/x", sizeMiB: null, mode: null, noexec: false })).toBe("mode=755");
    expect(tmpfsData({ path: "/x", sizeMiB: 1, mode: 0o700, noexec: false })).toBe("size=1048576,mode=700");
  });
  test.each([
    ["/tmp,size=abc", 'size must be a whole number of MiB, got "abc"'],
    ["/tmp,size=0", "size must be a whole number of MiB"],
    ["/tmp,mode=999", 'mode must be octal (e.g. 1777), got "999"'],
    ["/tmp,ro", 'unknown option "ro"'],
    ["tmp", 'path "tmp" must be an absolute path'],
    ["/tmp,size=1,size=2", "size given twice"],
  ])("%p fails", (v, m) => bad(() => parseTmpfs(v), m));
});

describe("MSB_NET", () => {
  test("iface and mac, mtu defaulting to 1500", () => {
    expect(parseNet("iface=eth0,mac=02:5A:7b:13:01:02")).toEqual({
      iface: "eth0",
      mac: "02:5a:7b:13:01:02",
      mtu: 1500,
    });
    expect(parseNet("iface=eth0,mac=02:5a:7b:13:01:02,mtu=9000").mtu).toBe(9000);
  });
  test.each([
    ["mac=02:00:00:00:00:01", "missing iface=NAME"],
    ["iface=eth0", "missing mac="],
    ["iface=eth0,mac=02:00:00:00:00", 'mac "02:00:00:00:00" is not six hex pairs'],
    ["iface=eth0,mac=02:00:00:00:00:01,mtu=10", "mtu must be a number from 68 to 65535"],
    ["iface=eth0,mac=02:00:00:00:00:01,speed=10", 'unknown option "speed=10"'],
    ["iface=this-name-is-too-long,mac=02:00:00:00:00:01", "is not an interface name"],
  ])("%p fails", (v, m) => bad(() => parseNet(v), m));
});

describe("MSB_NET_IPV4 and MSB_NET_IPV6", () => {
  test("addr/prefix, gw and dns", () => {
    const v4 = parseIpv4Config("addr=100.96.1.2/30,gw=100.96.1.1,dns=100.96.1.1");
    expect([hex(v4.addr), v4.prefix, hex(v4.gw), hex(v4.dns!)]).toEqual([
      "64600102",
      30,
      "64600101",
      "64600101",
    ]);
    const v6 = parseIpv6Config("addr=fd42:6d73:62:2a::2/64,gw=fd42:6d73:62:2a::1");
    expect([hex(v6.addr), v6.prefix, v6.dns]).toEqual(["fd426d730062002a0000000000000002", 64, null]);
  });
  test.each([
    [parseIpv4Config, "gw=1.1.1.1", "MSB_NET_IPV4: missing addr="],
    [parseIpv4Config, "addr=10.0.0.2,gw=10.0.0.1", "needs a prefix length"],
    [parseIpv4Config, "addr=10.0.0.256/24,gw=10.0.0.1", 'addr "10.0.0.256" is not an IPv4 address'],
    [parseIpv4Config, "addr=10.0.0.2/33,gw=10.0.0.1", 'prefix "33" must be 0..32'],
    [parseIpv4Config, "addr=10.0.0.2/24", "missing gw="],
    [parseIpv4Config, "addr=10.0.0.2/24,gw=10.0.0.1,dns=x", 'dns "x" is not an IPv4 address'],
    [parseIpv6Config, "addr=fd00::2/129,gw=fd00::1", 'prefix "129" must be 0..128'],
    [parseIpv6Config, "addr=fd00:::2/64,gw=fd00::1", "is not an IPv6 address"],
  ])("%p %p fails", (f, v, m) => bad(() => f(v), m));
  test("IP text parsers", () => {
    expect(hex(parseIpv6("::1")!)).toBe("00000000000000000000000000000001");
    expect(hex(parseIpv6("::ffff:10.0.0.1")!)).toBe("00000000000000000000ffff0a000001");
    expect(parseIpv6("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIpv4("01.2.3.4")).toBeNull();
  });
});

describe("MSB_USER", () => {
  test.each(["alice", "1000", "alice:dev", "1000:100", " bob "])("%p is accepted", (v) =>
    expect(parseUserSpec(v)).toBe(v.trim()),
  );
  test.each(["a:b:c", "", "al ice", ":x"])("%p fails", (v) => bad(() => parseUserSpec(v), "MSB_USER: "));
});

describe("parseSetup", () => {
  test("parses everything and reports every bad variable before any change", () => {
    const r = parseSetup({
      MSB_TMPFS: "/tmp,size=x",
      MSB_HOSTNAME: "bad name",
      MSB_NET_IPV4: "addr=1.2.3.4/8,gw=1.1.1.1",
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.map((e) => e.variable).sort()).toEqual(["MSB_HOSTNAME", "MSB_NET_IPV4", "MSB_TMPFS"]);
      expect(r.errors.find((e) => e.variable === "MSB_NET_IPV4")!.message).toBe(
        "MSB_NET_IPV4: needs MSB_NET (the interface to configure)",
      );
    }
  });
  test("no variables is an empty configuration", () => {
    expect(parseSetup({})).toEqual({
      ok: true,
      config: {
        blockRoot: null,
        dirMounts: [],
        fileMounts: [],
        hostname: null,
        tmpfs: [],
        net: null,
        ipv4: null,
        ipv6: null,
        user: null,
      },
    });
  });
});

describe("generated files and messages", () => {
  test("/etc/hosts with and without a hostname", () => {
    expect(hostsFile("box")).toBe(
      "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback box\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    expect(hostsFile(null).split("\n")[0]).toBe("127.0.0.1\tlocalhost");
  });
  test("resolv.conf lists IPv4 DNS first", () => {
    const v4 = parseIpv4Config("addr=10.0.0.2/24,gw=10.0.0.1,dns=10.0.0.53");
    const v6 = parseIpv6Config("addr=fd00::2/64,gw=fd00::1,dns=fd00::53");
    expect(resolvConf(v4, v6)).toBe("nameserver 10.0.0.53\nnameserver fd00::53\n");
    expect(resolvConf(null, null)).toBeNull();
  });
  test("the profile block is exactly the protocol's lines", () => {
    expect(PROFILE_BLOCK).toBe(
      '# >>> microsandbox scripts path >>>\ncase ":$PATH:" in\n  *:/.msb/scripts:*) ;;\n  *) export PATH="/.msb/scripts:$PATH" ;;\nesac\n# <<< microsandbox scripts path <<<\n',
    );
  });
  test("disk filesystems are the lines of /proc/filesystems without nodev", () => {
    expect(diskFilesystems("nodev\tsysfs\n\text4\nnodev\ttmpfs\n\terofs\n")).toEqual(["ext4", "erofs"]);
  });
  test("netlink RTM_NEWADDR for IPv6 asks for no DAD", () => {
    const m = newAddrMessage(3, parseIpv6("fd00::2")!, 64, 7);
    const v = new DataView(m.buffer);
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true)]).toEqual([
      m.length,
      20,
      0x605,
      7,
    ]);
    expect([m[16], m[17], m[18]! & 0x02, v.getUint32(20, true)]).toEqual([10, 64, 2, 3]);
    expect(hex(m.subarray(24, 44))).toBe("1400" + "0200" + "fd000000000000000000000000000002");
  });
  test("netlink RTM_NEWROUTE for a default route", () => {
    const m = defaultRouteMessage(2, parseIpv4("10.0.2.2")!, 1);
    expect([m[16], m[17], m[20], m[21], m[22], m[23]]).toEqual([2, 0, 254, 3, 0, 1]);
    expect(hex(m.subarray(28))).toBe("080005000a000202" + "0800040002000000");
  });
});

test("hasInet6Address finds an address on an interface in /proc/net/if_inet6's text", () => {
  const text = [
    "fe80000000000000505400fffe123456 02 40 20 80     eth0",
    "00000000000000000000000000000001 01 80 10 80       lo",
    "fd000000000000000000000000000002 02 40 00 80     eth0",
    "",
  ].join("\n");
  expect(hasInet6Address(text, "lo", parseIpv6("::1")!)).toBe(true);
  expect(hasInet6Address(text, "eth0", parseIpv6("fd00::2")!)).toBe(true);
  expect(hasInet6Address(text, "eth0", parseIpv6("::1")!)).toBe(false);
  expect(hasInet6Address(text, "lo", parseIpv6("fd00::2")!)).toBe(false);
  expect(hasInet6Address("", "lo", parseIpv6("::1")!)).toBe(false);
});
