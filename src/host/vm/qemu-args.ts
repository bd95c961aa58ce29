/**
 * The QEMU command line for a guest, as a pure function of the options: TCG (or KVM when it was
 * probed to work), shared memory for virtiofs, the port `agent` on a Unix socket, one
 * vhost-user-fs device per share, an optional virtio-blk disk and user-mode virtio-net, and the
 * MSB_* values on the kernel command line (the kernel hands unknown KEY=VALUE words to init).
 */

export interface Share {
  tag: string;
  hostDir: string;
  /** The virtiofsd socket serving this share. */
  socket: string;
}

export interface QemuPlan {
  qemu: string;
  accel: "tcg" | "kvm";
  memoryMiB: number;
  cpus: number;
  kernel: string;
  initrd: string;
  agentSocket: string;
  consoleLog: string;
  pidFile: string;
  shares: Share[];
  disk: string | null;
  /** The guest NIC's MAC; null for no network. */
  mac: string | null;
  env: string[];
  /** The firmware (qboot, see qbootRom); null for QEMU's own (SeaBIOS). */
  bios: string | null;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks KEY=VALUE words for the kernel command line; returns an error message or null. */
export function checkEnvWord(word: string): string | null {
  const eq = word.indexOf("=");
  if (eq <= 0) return `--env '${word}': expected KEY=VALUE`;
  if (!KEY.test(word.slice(0, eq))) return `--env '${word}': the key must be letters, digits and _`;
  if (/[\s"]/.test(word)) return `--env '${word}': the kernel command line cannot carry spaces or quotes`;
  return null;
}

/**
 * Under TCG the guest kernel calls its TSC unsynchronized (a heuristic for CPUs that are not
 * Intel's and have no invariant-TSC flag, not a measured warp) and keeps time on the emulated
 * HPET: then every clock_gettime(2) is a real system call and an HPET read, an exit to QEMU
 * under its big lock (strace of agentd during a 64 MiB stdout: 1215 of them beside 2311
 * writes). TCG's TSC is the host's, read through one counter that QEMU keeps monotonic for all
 * vCPUs under a lock, so `tsc=reliable` is true here; time is then read in the vDSO. A/B, 4
 * guests each: exec round trip p50 lower in every pair (19.0 -> 18.2 ms on average over the
 * pairs' medians; stat round trip 4.5 -> 4.2 ms). test/vm/clock.test.ts checks that time never
 * goes backwards from one vCPU to the other. Under KVM the guest uses kvm-clock.
 */
const TCG_KERNEL_ARGS = ["tsc=reliable"];

/**
 * On every guest: no self-tests of the kernel's crypto algorithms at boot. They check the
 * kernel's own implementations against test vectors (a FIPS kernel runs them regardless), and
 * the guest kernel waited for them in two initcalls: with initcall_debug, crypto_kdf108_init took
 * 401 ms and crypto_algapi_init 176 ms under TCG. `cryptomgr.notests=1` turns off the tests of
 * the crypto manager: /init ran 1.45-1.48 s after the kernel's start against 1.65-1.85 s (three
 * boots each, alternating). crypto_kdf108_init is nothing but the KDF's own self-test, which does
 * not ask the crypto manager (kdf_sp800108.c): it asked for hmac(sha256), which waited for the
 * initramfs to be unpacked (see image/rootfs.ts's KERNEL_MODPROBE) and held up every initcall after
 * it; skipped, /init ran 126-133 ms after the initramfs was unpacked against 204-215 (three boots
 * each, alternating). The KDF itself stays available.
 */
const KERNEL_ARGS = [
  "console=ttyS0",
  "panic=-1",
  "quiet",
  "loglevel=3",
  "cryptomgr.notests=1",
  "initcall_blacklist=crypto_kdf108_init",
];

export function kernelCommandLine(env: readonly string[], accel: "tcg" | "kvm" = "kvm"): string {
  return [...KERNEL_ARGS, ...(accel === "tcg" ? TCG_KERNEL_ARGS : []), ...env].join(" ");
}

/**
 * The CPU under TCG: QEMU's "max" without ERMS. With ERMS the guest kernel copies and clears
 * memory with `rep movsb`/`rep stosb` (copy_user_enhanced_fast_string, clear_page_erms), which
 * TCG runs one byte per loop turn; without it the kernel uses `rep movsq` or unrolled loops and
 * glibc's memcpy its vector loops. Measured in the guest (same image, A/B boots): a pipe (dd bs=1M
 * | cat) 40 -> 133-173 MB/s, agentd's stdout 31 -> 57-71 MB/s, the kernel's unpacking of the
 * initramfs 1.3 -> 0.9 s. AVX/AVX2 on or off made no difference beyond the noise.
 */
export const TCG_CPU = "max,erms=off";

export function qemuArgs(p: QemuPlan): string[] {
  const args = [
    p.qemu,
    "-accel",
    p.accel,
    ...(p.accel === "tcg" ? ["-cpu", TCG_CPU] : ["-cpu", "host"]),
    "-M",
    "pc",
    "-m",
    String(p.memoryMiB),
    "-smp",
    String(p.cpus),
    "-nodefaults",
    "-no-user-config",
    "-nographic",
    "-no-reboot",
    ...(p.bios ? ["-bios", p.bios] : []),
    "-kernel",
    p.kernel,
    "-initrd",
    p.initrd,
    "-append",
    kernelCommandLine(p.env, p.accel),
    "-serial",
    `file:${p.consoleLog}`,
    "-pidfile",
    p.pidFile,
    // virtiofs needs the guest memory shared with virtiofsd.
    "-object",
    `memory-backend-memfd,id=mem,size=${p.memoryMiB}M,share=on`,
    "-numa",
    "node,memdev=mem",
    "-device",
    "virtio-serial-pci,id=vser",
    "-chardev",
    `socket,id=agent,path=${p.agentSocket},server=on,wait=off`,
    "-device",
    "virtserialport,bus=vser.0,chardev=agent,name=agent",
  ];
  p.shares.forEach((s, i) => {
    args.push(
      "-chardev",
      `socket,id=vfs${i},path=${s.socket}`,
      "-device",
      `vhost-user-fs-pci,chardev=vfs${i},tag=${s.tag}`,
    );
  });
  if (p.disk)
    args.push(
      "-drive",
      `file=${p.disk},if=none,id=disk0,format=raw,cache=writeback`,
      "-device",
      "virtio-blk-pci,drive=disk0",
    );
  if (p.mac) args.push("-netdev", "user,id=net0", "-device", `virtio-net-pci,netdev=net0,mac=${p.mac}`);
  return args;
}

/** The MAC in an MSB_NET value (`iface=eth0,mac=02:..,mtu=1500`), if any. */
export function macFromEnv(env: readonly string[]): string | null {
  const net = env.find((e) => e.startsWith("MSB_NET="));
  return net ? (/(?:^|,)mac=([0-9A-Fa-f:]{17})(?:,|$)/.exec(net.slice(8))?.[1] ?? null) : null;
}
