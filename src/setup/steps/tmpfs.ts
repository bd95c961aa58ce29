/** Step 7: MSB_TMPFS entries: tmpfs with size=<bytes>,mode=<octal>, nosuid,nodev,relatime (+noexec). */
import { makeDirs } from "../../sys/files.ts";
import { mount, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RELATIME } from "../../sys/mount.ts";
import type { Tmpfs } from "../grammar.ts";

/** /tmp and /var/tmp are world-writable with the sticky bit; anything else is 755. */
export function defaultMode(path: string): number {
  return path === "/tmp" || path === "/var/tmp" ? 0o1777 : 0o755;
}

export function tmpfsData(t: Tmpfs): string {
  const mode = (t.mode ?? defaultMode(t.path)).toString(8);
  return t.sizeMiB === null ? `mode=${mode}` : `size=${t.sizeMiB * 1024 * 1024},mode=${mode}`;
}

export function mountTmpfs(entries: readonly Tmpfs[]): void {
  for (const t of entries) {
    makeDirs(t.path);
    const flags = MS_NOSUID | MS_NODEV | MS_RELATIME | (t.noexec ? MS_NOEXEC : 0);
    mount("tmpfs", t.path, "tmpfs", flags, tmpfsData(t));
  }
}
