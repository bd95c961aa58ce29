/** Step 2: the host's runtime share (virtiofs tag msb_runtime) at /.msb: scripts, heartbeat, CA. */
import { mkdirSync } from "node:fs";
import { RUNTIME_FS_TAG, RUNTIME_MOUNT_POINT } from "../../protocol/constants.ts";
import { mountIfNeeded } from "./base-mounts.ts";

export function runtimeShare(): void {
  mkdirSync(RUNTIME_MOUNT_POINT, { recursive: true });
  mountIfNeeded({ source: RUNTIME_FS_TAG, type: "virtiofs", target: RUNTIME_MOUNT_POINT, flags: 0 });
}
