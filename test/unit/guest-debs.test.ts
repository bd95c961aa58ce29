/**
 * The guest packages' download (src/host/image/debs.ts) with apt's commands played by a table:
 * package lists older than the mirror must not stop a machine from building the guest.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchGuestPackages, KERNEL_METAPACKAGE, type Run } from "../../src/host/image/debs.ts";

/**
 * A machine whose mirror serves only `served` kernels; its lists name `listed` until
 * `apt-get update`, then the newest served one. `apt-get download` writes a .deb and
 * `dpkg-deb -x` unpacks what a kernel or busybox package holds.
 */
function aptMachine(listed: string, served: string[]) {
  const calls: string[] = [];
  let current = listed;
  const run: Run = (cmd, cwd) => {
    calls.push(cmd.join(" "));
    const [tool, verb, ...rest] = cmd;
    if (tool === "apt-cache" && verb === "depends" && rest[0] === KERNEL_METAPACKAGE)
      return `${KERNEL_METAPACKAGE}\n  Depends: linux-image-${current}-cloud-amd64\n`;
    if (tool === "apt-get" && verb === "update") {
      current = served[served.length - 1] ?? current;
      return "";
    }
    if (tool === "apt-get" && verb === "download") {
      const pkg = rest[rest.length - 1]!;
      const version = /^linux-image-(.+)-cloud-amd64$/.exec(pkg)?.[1];
      if (version !== undefined && !served.includes(version))
        throw new Error(`${cmd.join(" ")} failed (100): E: Failed to fetch ${pkg}  404  Not Found`);
      writeFileSync(join(cwd!, `${pkg}_1_amd64.deb`), "");
      return "";
    }
    if (tool === "dpkg-deb" && verb === "-x") {
      const [deb, root] = rest as [string, string];
      const version = /linux-image-(.+)-cloud-amd64_/.exec(deb)?.[1];
      if (version !== undefined) {
        mkdirSync(join(root, "lib", "modules", `${version}-cloud-amd64`), { recursive: true });
        mkdirSync(join(root, "boot"), { recursive: true });
      } else {
        mkdirSync(join(root, "bin"), { recursive: true });
      }
      return "";
    }
    throw new Error(`unexpected command: ${cmd.join(" ")}`);
  };
  return { run, calls };
}

let cache = "";
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), "agentd-debs-"));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

describe("guest packages", () => {
  test("current lists: the metapackage's kernel and busybox, downloaded and unpacked once", () => {
    const m = aptMachine("6.1.0-57", ["6.1.0-57"]);
    const p = fetchGuestPackages(cache, m.run);
    expect(p.kernelVersion).toBe("6.1.0-57-cloud-amd64");
    expect(p.vmlinuz).toBe(
      join(cache, "pkgs", "linux-image-6.1.0-57-cloud-amd64", "boot", "vmlinuz-6.1.0-57-cloud-amd64"),
    );
    expect(p.busybox).toBe(join(cache, "pkgs", "busybox-static", "bin", "busybox"));
    expect(m.calls.filter((c) => c.startsWith("apt-get update"))).toEqual([]);
    // A second build takes everything from the cache: only the kernel's name is resolved again.
    const again = aptMachine("6.1.0-57", ["6.1.0-57"]);
    expect(fetchGuestPackages(cache, again.run)).toEqual(p);
    expect(again.calls).toEqual([`apt-cache depends ${KERNEL_METAPACKAGE}`]);
  });

  test("lists older than the mirror: refreshed once, and the kernel resolved again", () => {
    const m = aptMachine("6.1.0-56", ["6.1.0-57"]);
    const p = fetchGuestPackages(cache, m.run);
    expect(p.kernelVersion).toBe("6.1.0-57-cloud-amd64");
    expect(m.calls).toEqual([
      `apt-cache depends ${KERNEL_METAPACKAGE}`,
      "apt-get download -q linux-image-6.1.0-56-cloud-amd64",
      "apt-get update -qq",
      `apt-cache depends ${KERNEL_METAPACKAGE}`,
      "apt-get download -q linux-image-6.1.0-57-cloud-amd64",
      expect.stringMatching(/^dpkg-deb -x .*linux-image-6\.1\.0-57-cloud-amd64_1_amd64\.deb /),
      "apt-get download -q busybox-static",
      expect.stringMatching(/^dpkg-deb -x .*busybox-static_1_amd64\.deb /),
    ]);
  });

  test("a mirror that serves no kernel at all: the download's error, after one refresh", () => {
    const m = aptMachine("6.1.0-56", []);
    expect(() => fetchGuestPackages(cache, m.run)).toThrow(/404  Not Found/);
    expect(m.calls.filter((c) => c.startsWith("apt-get update"))).toHaveLength(1);
  });
});
