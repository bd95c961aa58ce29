/**
 * The guest setup as one flat list of steps in PROTOCOL.md §8 order, built from a config that
 * was parsed and checked as a whole first. Each step has a stable id (for `agentd --setup-only
 * --steps ...`) and a name for the failure message.
 */
import { log } from "../agent/log.ts";
import type { SetupConfig } from "./grammar.ts";
import { NOTHING_REPORTED, type InitReport } from "./init-report.ts";
import type { SetupStep } from "./step.ts";
import { baseMounts } from "./steps/base-mounts.ts";
import { switchRoot } from "./steps/block-root.ts";
import { installCa } from "./steps/ca.ts";
import { runDir, tmpDirs } from "./steps/dirs.ts";
import { applyHostname } from "./steps/hostname.ts";
import { configureInterface, loopbackUp } from "./steps/network.ts";
import { addProfileBlock } from "./steps/profile.ts";
import { runtimeShare } from "./steps/runtime-share.ts";
import { mountDirShares, mountFileShares } from "./steps/shares.ts";
import { mountTmpfs } from "./steps/tmpfs.ts";

export interface PlannedStep extends SetupStep {
  readonly id: string;
}

/**
 * `exported` receives variables every exec inherits (the CA's); what init reports it did
 * (`byInit`) is left out.
 */
export function setupSteps(
  c: SetupConfig,
  exported: Record<string, string>,
  byInit: InitReport = NOTHING_REPORTED,
): PlannedStep[] {
  const steps: PlannedStep[] = [];
  if (!byInit.kernelFilesystems)
    steps.push({ id: "base-mounts", name: "mount kernel filesystems", run: baseMounts });
  if (!byInit.runtimeShare) steps.push({ id: "runtime", name: "mount runtime share", run: runtimeShare });
  if (c.blockRoot) {
    const b = c.blockRoot;
    steps.push({ id: "block-root", name: `switch to block root ${b.device}`, run: () => void switchRoot(b) });
    steps.push({ id: "base-mounts", name: "mount kernel filesystems in the new root", run: baseMounts });
  }
  steps.push(
    { id: "dir-mounts", name: "mount directory shares", run: () => mountDirShares(c.dirMounts) },
    { id: "file-mounts", name: "mount file shares", run: () => mountFileShares(c.fileMounts) },
    { id: "hostname", name: "hostname", run: () => applyHostname(c.hostname) },
    { id: "tmpfs", name: "tmpfs mounts", run: () => mountTmpfs(c.tmpfs) },
    { id: "tmp-dirs", name: "tmp directories", run: tmpDirs },
    {
      id: "network",
      name: "network",
      run: () => {
        if (!byInit.loopback) loopbackUp();
        if (c.net) configureInterface(c.net, c.ipv4, c.ipv6);
      },
    },
    {
      id: "ca",
      name: "TLS CA certificate",
      run: () => {
        const r = installCa();
        if (!r) return;
        for (const w of r.warnings) log("warn", `ca: ${w}`);
        Object.assign(exported, r.env);
      },
    },
    { id: "profile", name: "/etc/profile scripts path", run: () => addProfileBlock() },
    { id: "run-dir", name: "run directory", run: runDir },
  );
  return steps;
}
