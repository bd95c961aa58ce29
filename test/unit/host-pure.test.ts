/** Pure parts of the host side: module ordering, the QEMU command line, the relay's ready scan. */
import { describe, expect, test } from "bun:test";
import { loadOrder, parseBuiltin, parseModinfo, type ModuleInfo } from "../../src/host/image/modules.ts";
import { checkEnvWord, kernelCommandLine, macFromEnv, qemuArgs } from "../../src/host/vm/qemu-args.ts";
import { findReady } from "../../src/host/vm/relay.ts";
import { cachedAccel } from "../../src/host/vm/accel.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";

const mod = (name: string, depends: string[] = []): ModuleInfo => ({
  name,
  depends,
  path: `kernel/${name}.ko`,
});

describe("kernel modules", () => {
  test("reads name and depends from .modinfo strings", () => {
    const bytes = Buffer.from(
      "\x7fELF....\0license=GPL\0depends=virtio_ring,virtio\0name=virtio_pci\0vermagic=6.1\0",
      "latin1",
    );
    expect(parseModinfo(bytes, "kernel/drivers/virtio/virtio_pci.ko")).toEqual({
      name: "virtio_pci",
      depends: ["virtio_ring", "virtio"],
      path: "kernel/drivers/virtio/virtio_pci.ko",
    });
  });
  test("an empty depends= means no dependencies; a missing name falls back to the file name", () => {
    expect(parseModinfo(Buffer.from("\0depends=\0", "latin1"), "kernel/a/net-fail.ko")).toMatchObject({
      name: "net_fail",
      depends: [],
    });
  });
  test("orders dependencies first, each once, skipping built-ins", () => {
    const index = new Map(
      [
        mod("virtio"),
        mod("virtio_ring"),
        mod("virtio_pci", ["virtio_ring", "virtio"]),
        mod("virtiofs", ["fuse", "virtio"]),
        mod("fuse"),
      ].map((m) => [m.name, m]),
    );
    const order = loadOrder(["virtio_pci", "virtiofs"], index, new Set(["ext4"]));
    expect(order.map((m) => m.name)).toEqual(["virtio_ring", "virtio", "virtio_pci", "fuse", "virtiofs"]);
    expect(loadOrder(["ext4"], index, new Set(["ext4"]))).toEqual([]);
  });
  test("a module that is neither a module nor built in is an error naming who needs it", () => {
    const index = new Map([mod("a", ["missing"])].map((m) => [m.name, m]));
    expect(() => loadOrder(["a"], index, new Set())).toThrow("module 'missing' (needed by a)");
  });
  test("modules.builtin lines become names", () => {
    expect(parseBuiltin("kernel/fs/ext4/ext4.ko\nkernel/lib/crc-t10dif.ko\n")).toEqual(
      new Set(["ext4", "crc_t10dif"]),
    );
  });
});

describe("QEMU command line", () => {
  const plan = {
    qemu: "qemu-system-x86_64",
    accel: "tcg" as const,
    memoryMiB: 512,
    cpus: 1,
    kernel: "/k",
    initrd: "/i",
    agentSocket: "/s/port.sock",
    consoleLog: "/s/console.log",
    pidFile: "/s/qemu.pid",
    shares: [{ tag: "msb_runtime", hostDir: "/s/runtime", socket: "/s/vfs.sock" }],
    disk: "/d.img",
    mac: "02:00:00:00:00:09",
    env: ["MSB_HOSTNAME=box"],
    bios: "/q/qboot.rom",
  };
  const args = qemuArgs(plan);
  const after = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
  test("the firmware given (qboot), or none for QEMU's own", () => {
    expect(after("-bios")).toEqual(["/q/qboot.rom"]);
    expect(qemuArgs({ ...plan, bios: null })).not.toContain("-bios");
  });
  test("TCG with -cpu max minus ERMS, shared memory for virtiofs, no reboot", () => {
    expect(after("-accel")).toEqual(["tcg"]);
    expect(after("-cpu")).toEqual(["max,erms=off"]);
    expect(after("-object")).toEqual(["memory-backend-memfd,id=mem,size=512M,share=on"]);
    expect(args).toContain("-no-reboot");
  });
  test("the port agent on the socket, one vhost-user-fs per share, the disk and the NIC", () => {
    expect(after("-chardev")).toEqual([
      "socket,id=agent,path=/s/port.sock,server=on,wait=off",
      "socket,id=vfs0,path=/s/vfs.sock",
    ]);
    expect(after("-device")).toEqual([
      "virtio-serial-pci,id=vser",
      "virtserialport,bus=vser.0,chardev=agent,name=agent",
      "vhost-user-fs-pci,chardev=vfs0,tag=msb_runtime",
      "virtio-blk-pci,drive=disk0",
      "virtio-net-pci,netdev=net0,mac=02:00:00:00:00:09",
    ]);
  });
  test("MSB_* values travel on the kernel command line", () => {
    expect(after("-append")).toEqual([kernelCommandLine(["MSB_HOSTNAME=box"], "tcg")]);
    expect(kernelCommandLine(["A=1"], "kvm")).toBe(
      "console=ttyS0 panic=-1 quiet loglevel=3 cryptomgr.notests=1 initcall_blacklist=crypto_kdf108_init A=1",
    );
  });
  test("a TCG guest keeps time on the TSC (tsc=reliable); a KVM guest is left to kvm-clock", () => {
    expect(after("-append")[0]!.split(" ")).toContain("tsc=reliable");
    expect(kernelCommandLine(["A=1"], "tcg")).toBe(
      "console=ttyS0 panic=-1 quiet loglevel=3 cryptomgr.notests=1 initcall_blacklist=crypto_kdf108_init tsc=reliable A=1",
    );
    expect(kernelCommandLine([], "kvm")).not.toContain("tsc=");
  });
  test("env words are checked for what the kernel command line can carry", () => {
    expect(checkEnvWord("MSB_TMPFS=/tmp,size=64")).toBeNull();
    expect(checkEnvWord("NOEQUALS")).toContain("expected KEY=VALUE");
    expect(checkEnvWord("A=has space")).toContain("spaces or quotes");
    expect(checkEnvWord("1A=x")).toContain("letters, digits");
  });
  test("the MAC comes from MSB_NET", () => {
    expect(macFromEnv(["MSB_NET=iface=eth0,mac=02:aa:bb:cc:dd:ee,mtu=1400"])).toBe("02:aa:bb:cc:dd:ee");
    expect(macFromEnv(["MSB_HOSTNAME=x"])).toBeNull();
  });
});

describe("relay", () => {
  const ready = Buffer.from(
    encodeFrame(0, { type: "core.ready", payload: { boot_time_ns: 1, init_time_ns: 1, ready_time_ns: 2 } }),
  );
  const other = Buffer.from(encodeFrame(5, { type: "core.exec.exited", payload: { code: 0 } }));
  test("finds core.ready after other whole frames", () => {
    expect(findReady(Buffer.concat([other, ready]))).toBe(other.length);
    expect(findReady(ready)).toBe(0);
  });
  test("waits for a whole frame and gives up on garbage", () => {
    expect(findReady(ready.subarray(0, ready.length - 1))).toBe(-1);
    expect(findReady(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]))).toBe(-1);
  });
});

describe("KVM probe cache", () => {
  const boot = "70eb784b-3780-45be-9b4e-42697cb50164";
  const cache = (o: object) => JSON.stringify(o);

  test("an answer from this host boot holds for any kernel", () => {
    const text = cache({ kernel: "/a/vmlinuz", accel: "tcg", bootId: boot });
    expect(cachedAccel(text, "/a/vmlinuz", boot)).toBe("tcg");
    expect(cachedAccel(text, "/other/image/vmlinuz", boot)).toBe("tcg");
  });

  test("an answer from an earlier host boot is probed again", () => {
    const text = cache({ kernel: "/a/vmlinuz", accel: "kvm", bootId: "an-earlier-boot" });
    expect(cachedAccel(text, "/a/vmlinuz", boot)).toBeNull();
  });

  test("a cache without a boot id (older format, or no boot id readable) holds for its own kernel only", () => {
    const old = cache({ kernel: "/a/vmlinuz", accel: "kvm" });
    expect(cachedAccel(old, "/a/vmlinuz", boot)).toBe("kvm");
    expect(cachedAccel(old, "/b/vmlinuz", boot)).toBeNull();
    const withId = cache({ kernel: "/a/vmlinuz", accel: "kvm", bootId: boot });
    expect(cachedAccel(withId, "/a/vmlinuz", null)).toBe("kvm");
    expect(cachedAccel(withId, "/b/vmlinuz", null)).toBeNull();
  });

  test("no cache, a corrupt one or an unknown answer means a new probe", () => {
    expect(cachedAccel("", "/a/vmlinuz", boot)).toBeNull();
    expect(cachedAccel("{not json", "/a/vmlinuz", boot)).toBeNull();
    expect(
      cachedAccel(cache({ kernel: "/a/vmlinuz", accel: "hvf", bootId: boot }), "/a/vmlinuz", boot),
    ).toBeNull();
  });
});
