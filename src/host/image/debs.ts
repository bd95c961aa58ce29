/**
 * The guest's kernel and busybox come from Debian packages downloaded with `apt-get download`
 * and unpacked with `dpkg-deb -x` into the cache: nothing is installed into the host system.
 * The kernel package is resolved from the linux-image-cloud-amd64 metapackage, whose target
 * moves with each Debian point release.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const KERNEL_METAPACKAGE = "linux-image-cloud-amd64";

/** Runs a command in `cwd` and returns its output; throws with its stderr when it fails. */
export type Run = (cmd: string[], cwd?: string) => string;

const runCommand: Run = (cmd, cwd) => {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0)
    throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
};

/** `apt-get download` failed: the package lists may name a version the mirror no longer has. */
class DownloadFailed extends Error {}

function kernelPackage(run: Run): string {
  const find = () =>
    /Depends: (linux-image-[^\s]+)/.exec(run(["apt-cache", "depends", KERNEL_METAPACKAGE]))?.[1] ?? null;
  let pkg: string | null = null;
  try {
    pkg = find();
  } catch {
    pkg = null;
  }
  if (!pkg) {
    // A fresh machine may not have package lists yet.
    run(["apt-get", "update", "-qq"]);
    pkg = find();
  }
  if (!pkg) throw new Error(`cannot resolve the kernel package from ${KERNEL_METAPACKAGE}`);
  return pkg;
}

/** Downloads (once) and unpacks (once) a package; returns the unpacked directory. */
function fetchAndUnpack(pkg: string, cacheDir: string, run: Run): string {
  const debs = join(cacheDir, "debs");
  const root = join(cacheDir, "pkgs", pkg);
  if (existsSync(join(root, ".unpacked"))) return root;
  mkdirSync(debs, { recursive: true });
  const have = () => readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  if (!have()) {
    try {
      run(["apt-get", "download", "-q", pkg], debs);
    } catch (e) {
      throw new DownloadFailed((e as Error).message);
    }
  }
  const deb = have();
  if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb in ${debs}`);
  mkdirSync(root, { recursive: true });
  run(["dpkg-deb", "-x", join(debs, deb), root]);
  writeFileSync(join(root, ".unpacked"), deb);
  return root;
}

export interface GuestPackages {
  kernelVersion: string;
  vmlinuz: string;
  modulesDir: string;
  busybox: string;
}

/**
 * The kernel and busybox, downloaded and unpacked once into `cacheDir`. Package lists older than
 * the mirror (a machine set up before a point release or a security update) name versions the
 * mirror no longer serves: when a download fails, the lists are refreshed once and the kernel
 * package resolved again.
 */
export function fetchGuestPackages(cacheDir: string, run: Run = runCommand): GuestPackages {
  try {
    return fetchOnce(cacheDir, run);
  } catch (e) {
    if (!(e instanceof DownloadFailed)) throw e;
    run(["apt-get", "update", "-qq"]);
    return fetchOnce(cacheDir, run);
  }
}

function fetchOnce(cacheDir: string, run: Run): GuestPackages {
  const kpkg = kernelPackage(run);
  const kroot = fetchAndUnpack(kpkg, cacheDir, run);
  const broot = fetchAndUnpack("busybox-static", cacheDir, run);
  const version = readdirSync(join(kroot, "lib", "modules"))[0];
  if (!version) throw new Error(`${kpkg} has no /lib/modules`);
  return {
    kernelVersion: version,
    vmlinuz: join(kroot, "boot", `vmlinuz-${version}`),
    modulesDir: join(kroot, "lib", "modules", version),
    busybox: join(broot, "bin", "busybox"),
  };
}
