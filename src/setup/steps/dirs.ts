/** Steps 8 and 12: /tmp and /var/tmp exist with mode 1777; /run exists. */
import { chmodSync, mkdirSync } from "node:fs";

export function tmpDirs(): void {
  for (const dir of ["/tmp", "/var/tmp"]) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o1777);
  }
}

export function runDir(): void {
  mkdirSync("/run", { recursive: true });
}
