/**
 * `agentctl image build`: the guest kernel plus an uncompressed newc initramfs of the staged
 * tree (uncompressed unpacks fastest under TCG; see DESIGN.md), with a manifest. Skips the work
 * when the image is newer than everything it is made of.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchGuestPackages } from "./debs.ts";
import { stageRootfs } from "./rootfs.ts";
import { extractPvhKernel } from "./vmlinux.ts";

export interface ImageFiles {
  dir: string;
  kernel: string;
  initrd: string;
  manifest: string;
}

/** The kernel as Debian ships it (a bzImage), and the ELF inside it when QEMU can start that. */
const BZIMAGE = "vmlinuz";
const PVH_KERNEL = "vmlinux";

/** The image's files; its kernel is the ELF started at its PVH entry when the image has one. */
export function imageFiles(dir: string): ImageFiles {
  const pvh = join(dir, PVH_KERNEL);
  return {
    dir,
    kernel: existsSync(pvh) ? pvh : join(dir, BZIMAGE),
    initrd: join(dir, "initramfs.cpio"),
    manifest: join(dir, "manifest.json"),
  };
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** True when the image exists and is newer than the binaries it contains. */
export function imageIsFresh(files: ImageFiles, distDir: string): boolean {
  const built = Math.min(mtime(files.initrd), mtime(files.kernel), mtime(files.manifest));
  if (built === 0) return false;
  return ["agentd", "agentd-exec", "init"].every(
    (f) => mtime(join(distDir, f)) > 0 && mtime(join(distDir, f)) <= built,
  );
}

/**
 * The image in `dir`, built first unless it is newer than everything it is made of (or `force`).
 * Its files are named after the build: which kernel it has is known only then. `built`: whether
 * it was built now.
 */
export function freshImage(
  dir: string,
  distDir: string,
  cacheDir: string,
  log: (m: string) => void = () => {},
  force = false,
): ImageFiles & { built: boolean } {
  if (!force && imageIsFresh(imageFiles(dir), distDir)) return { ...imageFiles(dir), built: false };
  return { ...buildImage(dir, distDir, cacheDir, log), built: true };
}

export function buildImage(
  outDir: string,
  distDir: string,
  cacheDir: string,
  log: (m: string) => void = () => {},
): ImageFiles {
  for (const f of ["agentd", "agentd-exec", "init"]) {
    if (!existsSync(join(distDir, f)))
      throw new Error(`${join(distDir, f)} is missing: run 'npm run build' first`);
  }
  const files = imageFiles(outDir);
  log("fetching the guest kernel and busybox (Debian packages, cached)");
  const pkgs = fetchGuestPackages(cacheDir);
  const stage = join(cacheDir, "stage");
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  log(`staging the guest tree (kernel ${pkgs.kernelVersion})`);
  const staged = stageRootfs(stage, distDir, pkgs);
  mkdirSync(outDir, { recursive: true });
  const tmp = `${files.initrd}.tmp`;
  const cpio = Bun.spawnSync(
    [
      "sh",
      "-c",
      `cd "$0" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner 0:0 --quiet > "$1"`,
      stage,
      tmp,
    ],
    { stderr: "pipe" },
  );
  if (cpio.exitCode !== 0) throw new Error(`cpio failed: ${cpio.stderr.toString()}`);
  Bun.spawnSync(["mv", tmp, files.initrd]);
  copyFileSync(pkgs.vmlinuz, join(outDir, BZIMAGE));
  // The ELF for a PVH start (vmlinux.ts), or the bzImage when this kernel has none.
  const pvh = extractPvhKernel(readFileSync(pkgs.vmlinuz));
  if (pvh.ok) writeFileSync(join(outDir, PVH_KERNEL), pvh.elf);
  else {
    rmSync(join(outDir, PVH_KERNEL), { force: true });
    log(`booting the bzImage: ${pvh.reason}`);
  }
  writeFileSync(
    files.manifest,
    JSON.stringify(
      {
        kernel: pkgs.kernelVersion,
        boot: pvh.ok ? "pvh" : "bzImage",
        modules: staged.modules,
        initrd_bytes: statSync(files.initrd).size,
        built: new Date().toISOString(),
      },
      null,
      2,
    ) + "\n",
  );
  rmSync(stage, { recursive: true, force: true });
  log(`image ready in ${outDir}`);
  return imageFiles(outDir);
}
