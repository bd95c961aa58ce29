/**
 * The guest setup as one flat list of steps in PROTOCOL.md §8 order.
 */
import type { SetupStep } from "./step.ts";
import { baseMounts } from "./steps/base-mounts.ts";
import { runDir, tmpDirs } from "./steps/dirs.ts";
import { runtimeShare } from "./steps/runtime-share.ts";

export function setupSteps(): SetupStep[] {
  return [
    { name: "mount kernel filesystems", run: baseMounts },
    { name: "mount runtime share", run: runtimeShare },
    { name: "tmp directories", run: tmpDirs },
    { name: "run directory", run: runDir },
  ];
}
