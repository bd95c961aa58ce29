/**
 * Boots an image whose agentd is bench/ready-floor/main.ts (dist/ready-floor, `build.sh bench`),
 * otherwise the default image, and reads its boot line: the least a Bun agent of agentd's design
 * takes from init's start to core.ready written, in the same bench run as agentd.
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseBootLine, type BootMarks } from "../../agentd/boot-line.ts";
import { buildImage } from "../../src/host/image/build.ts";
import { CACHE_DIR, DIST_DIR } from "../../src/host/paths.ts";
import { alive, waitFor } from "../../src/host/process.ts";
import { bootGuest, consoleOf, untilConsole } from "../../test/vm/harness.ts";
import { INIT_LINE } from "./line.ts";

export interface FloorBoot {
  /** init's start (the kernel's log, ms since the kernel started). */
  initMs: number;
  marks: BootMarks;
}

/** null (with the reason on stderr) when the floor did not come up. */
export async function bootReadyFloor(workDir: string): Promise<FloorBoot | null> {
  const floor = join(DIST_DIR, "ready-floor");
  if (!existsSync(floor)) {
    console.error(`ready floor: ${floor} is missing (scripts/build.sh bench builds it)`);
    return null;
  }
  const dist = join(workDir, "floor-dist");
  mkdirSync(dist, { recursive: true });
  copyFileSync(floor, join(dist, "agentd"));
  for (const f of ["agentd-exec", "init"]) copyFileSync(join(DIST_DIR, f), join(dist, f));
  const image = buildImage(join(workDir, "floor-image"), dist, CACHE_DIR);
  const guest = await bootGuest({
    kernel: image.kernel,
    initrd: image.initrd,
    stateDir: join(workDir, "floor"),
  });
  try {
    const log = await untilConsole(guest, (l) => l.includes(INIT_LINE), 20_000);
    const marks = parseBootLine(log);
    const at = log.lastIndexOf(INIT_LINE);
    const initMs = at < 0 ? NaN : Number.parseFloat(log.slice(at + INIT_LINE.length));
    if (!marks || !Number.isFinite(initMs)) {
      console.error(`ready floor: no boot line; its console ends:\n${consoleOf(guest).slice(-1000)}`);
      return null;
    }
    return { initMs, marks };
  } finally {
    // The floor exits once it has printed, and init powers the guest off; stop() then only tidies.
    await waitFor(() => !alive(guest.state.pid), 5000);
    await guest.stop();
  }
}
