/** Steps 8 and 12: /tmp and /var/tmp exist with mode 1777; /run exists. */
import { chmod, makeDirs } from "../../sys/files.ts";

export function tmpDirs(): void {
  for (const dir of ["/tmp", "/var/tmp"]) {
    makeDirs(dir);
    chmod(dir, 0o1777);
  }
}

export function runDir(): void {
  makeDirs("/run");
}
