/**
 * Step 6: /etc/hosts is always rewritten (localhost, the hostname when there is one, and the
 * standard IPv6 names); with MSB_HOSTNAME the kernel hostname and /etc/hostname are set too.
 */
import { joinPath, makeDirs, writeText } from "../../sys/files.ts";
import { SysError } from "../../sys/libc.ts";
import { sethostname } from "../../sys/system.ts";

const ENOENT = 2;

export function hostsFile(name: string | null): string {
  const n = name ? ` ${name}` : "";
  return [
    `127.0.0.1\tlocalhost${n}`,
    `::1\tlocalhost ip6-localhost ip6-loopback${n}`,
    "fe00::\tip6-localnet",
    "ff00::\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
    "",
  ].join("\n");
}

/** Writes the files under `root` (the guest's / in production, a fixture tree in tests). */
export function writeHostFiles(root: string, name: string | null): void {
  const etc = joinPath(root, "etc");
  const hosts = joinPath(etc, "hosts");
  // /etc is made only when the write finds it missing: every root has it, and mkdir -p of a
  // directory that is there is two failed system calls on the way to core.ready.
  try {
    writeText(hosts, hostsFile(name));
  } catch (e) {
    if (!(e instanceof SysError && e.errno === ENOENT)) throw e;
    makeDirs(etc);
    writeText(hosts, hostsFile(name));
  }
  if (name) writeText(joinPath(etc, "hostname"), `${name}\n`);
}

export function applyHostname(name: string | null, root = "/"): void {
  if (name) sethostname(name);
  writeHostFiles(root, name);
}
