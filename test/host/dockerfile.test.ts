/**
 * Dockerfile.guest builds offline with buildah (FROM scratch: no registry needed) into a rootfs
 * where the self-contained agentd and its exec helper run with nothing else present: no libc,
 * no shell, only /proc and /dev mounted as the guest setup mounts them.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENTCTL, ROOT } from "./harness.ts";

const BUILDAH = ["buildah", "--storage-driver", "vfs"];
const tag = `agentd-guest-test-${process.pid}`;
const context = mkdtempSync(join(tmpdir(), "agentd-ctx-"));

function run(cmd: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

afterAll(() => {
  run([...BUILDAH, "rmi", "-f", tag]);
  rmSync(context, { recursive: true, force: true });
});

test("Dockerfile.guest bakes a self-contained agentd into a scratch rootfs that runs it", () => {
  expect(run([AGENTCTL, "image", "context", "--out", context]).code).toBe(0);
  const built = run([
    ...BUILDAH,
    "bud",
    "-q",
    "-f",
    join(ROOT, "Dockerfile.guest"),
    "--build-arg",
    "BASE=scratch",
    "-t",
    tag,
    context,
  ]);
  expect(built.err).toBe("");
  expect(built.code).toBe(0);
  const container = run([...BUILDAH, "from", tag]).out.trim();
  const root = run([...BUILDAH, "mount", container]).out.trim();
  try {
    expect(statSync(join(root, "init")).mode & 0o111).not.toBe(0);
    expect(existsSync(join(root, "bin"))).toBe(false);
    const script = `mkdir -p "$0/proc" "$0/dev" && mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && chroot "$0" /.agentd/bin/agentd-exec -u 65534 -g 65534 -G 65534 -- /.agentd/bin/agentd --help`;
    const r = run(["unshare", "-m", "sh", "-c", script, root]);
    expect(r.out).toContain("usage: agentd");
    expect(r.code).toBe(0);
  } finally {
    run([...BUILDAH, "umount", container]);
    run([...BUILDAH, "rm", container]);
  }
}, 120_000);
