/**
 * Lays out the guest's root tree in a staging directory: init, agentd installed self-contained
 * under /.agentd (its own ELF loader and libraries, so the same directory runs on any rootfs),
 * the exec helper, busybox with its applets, the users, and the kernel modules with their load
 * order. The initramfs and Dockerfile.guest are both made from this tree.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import type { GuestPackages } from "./debs.ts";
import { loadOrder, parseBuiltin, parseModinfo, type ModuleInfo } from "./modules.ts";

/** Modules the guest needs (their dependencies are added): the port, shares, disk, network. */
export const WANTED_MODULES = [
  "virtio_pci",
  "virtio_console",
  "virtio_net",
  "virtio_blk",
  "virtiofs",
  "erofs",
];

export const AGENTD_DIR = "/.agentd";

export const PASSWD = `root:x:0:0:root:/root:/bin/sh
sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`;
export const GROUP = `root:x:0:
users:x:100:sandbox
sandbox:x:1000:
nogroup:x:65534:
`;

function run(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0)
    throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

/** The shared libraries a dynamic binary loads, from ldd: [soname, host path]. */
function sharedLibraries(binary: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of run(["ldd", binary]).split("\n")) {
    const arrow = /^\s*(\S+) => (\S+)/.exec(line);
    const loader = /^\s*(\/\S*ld-linux\S*)/.exec(line);
    if (arrow) out.push([arrow[1]!, arrow[2]!]);
    else if (loader) out.push([basename(loader[1]!), loader[1]!]);
  }
  return out;
}

/**
 * Installs agentd under /.agentd: bin/agentd with its interpreter and rpath pointing at
 * /.agentd/lib (patchelf), the libraries it needs, and the static exec helper beside it.
 */
export function installAgentd(stage: string, distDir: string): void {
  const bin = join(stage, AGENTD_DIR, "bin");
  const lib = join(stage, AGENTD_DIR, "lib");
  mkdirSync(bin, { recursive: true });
  mkdirSync(lib, { recursive: true });
  const agentd = join(bin, "agentd");
  copyFileSync(join(distDir, "agentd"), agentd);
  let loader = "";
  for (const [soname, path] of sharedLibraries(agentd)) {
    copyFileSync(realpathSync(path), join(lib, soname));
    chmodSync(join(lib, soname), 0o755);
    if (soname.startsWith("ld-linux")) loader = soname;
  }
  if (!loader) throw new Error("ldd did not name the ELF loader of agentd");
  run([
    "patchelf",
    "--set-interpreter",
    `${AGENTD_DIR}/lib/${loader}`,
    "--set-rpath",
    `${AGENTD_DIR}/lib`,
    agentd,
  ]);
  copyFileSync(join(distDir, "agentd-exec"), join(bin, "agentd-exec"));
  chmodSync(join(bin, "agentd-exec"), 0o755);
}

/**
 * The program the kernel runs for a module it wants (request_module(), CONFIG_MODPROBE_PATH): not
 * busybox's. At boot the kernel asks for crypto modules the guest does not have (the hmac(sha1)
 * and hmac(sha256) instances of IPv6's segment routing), and each ask waited for the initramfs to
 * be unpacked and then ran busybox's modprobe, which found nothing: ~80 ms of the boot under TCG
 * before /init. Without it the kernel's ask fails at once and it builds the instance itself, as
 * it did after modprobe found nothing. init loads the guest's modules itself (init/init.c).
 */
const KERNEL_MODPROBE = "/sbin/modprobe";

function installBusybox(stage: string, busybox: string): void {
  mkdirSync(join(stage, "bin"), { recursive: true });
  copyFileSync(busybox, join(stage, "bin", "busybox"));
  chmodSync(join(stage, "bin", "busybox"), 0o755);
  for (const applet of run([busybox, "--list-full"]).split("\n").filter(Boolean)) {
    if (`/${applet}` === KERNEL_MODPROBE) continue;
    const target = join(stage, applet);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(relative(dirname(target), join(stage, "bin", "busybox")), target);
  }
}

function installModules(stage: string, pkgs: GuestPackages): ModuleInfo[] {
  const index = new Map<string, ModuleInfo>();
  const builtin = parseBuiltin(readFileSync(join(pkgs.modulesDir, "modules.builtin"), "utf8"));
  const files = run(["find", pkgs.modulesDir, "-name", "*.ko*"]).split("\n").filter(Boolean);
  for (const file of files) {
    const rel = relative(pkgs.modulesDir, file);
    // Only the modules' small .modinfo strings matter; reading whole files is fine at this size.
    const info = parseModinfo(readFileSync(file), rel);
    index.set(info.name, info);
  }
  const order = loadOrder(WANTED_MODULES, index, builtin);
  const guestDir = `/lib/modules/${pkgs.kernelVersion}`;
  for (const m of order) {
    const dst = join(stage, guestDir, m.path);
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(join(pkgs.modulesDir, m.path), dst);
  }
  mkdirSync(join(stage, "etc", "agentd"), { recursive: true });
  writeFileSync(
    join(stage, "etc", "agentd", "modules"),
    order.map((m) => `${guestDir}/${m.path}\n`).join(""),
  );
  return order;
}

/** The build context of Dockerfile.guest: /.agentd (self-contained) and /init. */
export function stageDockerContext(out: string, distDir: string): void {
  mkdirSync(out, { recursive: true });
  installAgentd(out, distDir);
  copyFileSync(join(distDir, "init"), join(out, "init"));
  chmodSync(join(out, "init"), 0o755);
}

export interface StageResult {
  modules: string[];
}

/** Builds the whole guest tree in `stage` (which must be empty or missing). */
export function stageRootfs(stage: string, distDir: string, pkgs: GuestPackages): StageResult {
  for (const d of [
    "dev",
    "proc",
    "sys",
    "tmp",
    "run",
    "root",
    "home/sandbox",
    "var/tmp",
    ".msb",
    "newroot",
    "etc",
    "mnt",
  ]) {
    mkdirSync(join(stage, d), { recursive: true });
  }
  chmodSync(join(stage, "tmp"), 0o1777);
  chmodSync(join(stage, "var/tmp"), 0o1777);
  copyFileSync(join(distDir, "init"), join(stage, "init"));
  chmodSync(join(stage, "init"), 0o755);
  installAgentd(stage, distDir);
  installBusybox(stage, pkgs.busybox);
  writeFileSync(join(stage, "etc", "passwd"), PASSWD);
  writeFileSync(join(stage, "etc", "group"), GROUP);
  const modules = installModules(stage, pkgs);
  return { modules: modules.map((m) => m.name) };
}
