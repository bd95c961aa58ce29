/**
 * Finds the virtio-console port named `agent`: /sys/class/virtio-ports/<vportNpM>/name holds the
 * name the host gave it; the device node is /dev/<vportNpM> (/dev/virtio-ports/ exists only
 * where udev runs, which is not here).
 */
import { listDir, readText } from "../../sys/files.ts";
import { AGENT_PORT_NAME } from "../../protocol/constants.ts";

export const VIRTIO_PORTS_DIR = "/sys/class/virtio-ports";

export function findPort(sysDir = VIRTIO_PORTS_DIR, devDir = "/dev"): string | null {
  let entries: string[];
  try {
    entries = listDir(sysDir);
  } catch {
    return null;
  }
  for (const entry of entries.sort()) {
    try {
      if (readText(`${sysDir}/${entry}/name`).trim() === AGENT_PORT_NAME) return `${devDir}/${entry}`;
    } catch {
      // A port without a name file: not ours.
    }
  }
  return null;
}
