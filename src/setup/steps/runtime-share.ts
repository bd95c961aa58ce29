/** Step 2: the host's runtime share (virtiofs tag msb_runtime) at /.msb: scripts, heartbeat, CA. */
import { makeDirs } from "../../sys/files.ts";
import { RUNTIME_FS_TAG, RUNTIME_MOUNT_POINT } from "../../protocol/constants.ts";
import { mountIfNeeded } from "./base-mounts.ts";

export function runtimeShare(): void {
  makeDirs(RUNTIME_MOUNT_POINT);
  mountIfNeeded({ source: RUNTIME_FS_TAG, type: "virtiofs", target: RUNTIME_MOUNT_POINT, flags: 0 });
}
