/**
 * Step 6: /etc/hosts is always rewritten (localhost, the hostname when there is one, and the
 * standard IPv6 names); with MSB_HOSTNAME the kernel hostname and /etc/hostname are set too.
 */
import { joinPath, makeDirs, writeText } from "../../sys/files.ts";
import { sethostname } from "../../sys/system.ts";

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
  makeDirs(joinPath(root, "etc"));
  writeText(joinPath(root, "etc", "hosts"), hostsFile(name));
  if (name) writeText(joinPath(root, "etc", "hostname"), `${name}\n`);
}

export function applyHostname(name: string | null, root = "/"): void {
  if (name) sethostname(name);
  writeHostFiles(root, name);
}
