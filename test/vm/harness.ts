/**
 * Boots the real guest (kernel + initramfs with init and agentd) in QEMU for the vm tier, with
 * the launcher that `agentctl vm start` uses. The default image is rebuilt when dist/ is newer.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../../src/host/client.ts";
import { freshImage } from "../../src/host/image/build.ts";
import { CACHE_DIR, DEFAULT_IMAGE_DIR, DIST_DIR } from "../../src/host/paths.ts";
import { startVm, stopVm, type StartOptions, type VmState } from "../../src/host/vm/launcher.ts";

export interface Guest {
  state: VmState;
  dir: string;
  connect(): Promise<AgentClient>;
  stop(): Promise<{ clean: boolean }>;
}

export function defaultImage(): { kernel: string; initrd: string } {
  return freshImage(DEFAULT_IMAGE_DIR, DIST_DIR, CACHE_DIR);
}

export async function bootGuest(opts: Partial<StartOptions> = {}): Promise<Guest> {
  const dir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "agentd-vm-test-"));
  const image = defaultImage();
  const state = await startVm({ memoryMiB: 1536, ...image, ...opts, stateDir: dir, cacheDir: CACHE_DIR });
  let stopped = false;
  return {
    state,
    dir,
    connect: () => AgentClient.connect(state.socket, 20_000),
    async stop() {
      if (stopped) return { clean: true };
      stopped = true;
      const r = await stopVm(dir);
      rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}

export const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** The guest's serial console so far ("" until QEMU has written to it). */
export function consoleOf(guest: Guest): string {
  return existsSync(guest.state.console_log) ? readFileSync(guest.state.console_log, "utf8") : "";
}

/**
 * The console once `ready(console)` holds, or as it is after `ms`. agentd's lines go out on the
 * serial console, which can lag behind the port that carried core.ready and the answers.
 */
export async function untilConsole(
  guest: Guest,
  ready: (log: string) => boolean,
  ms = 10_000,
): Promise<string> {
  let log = consoleOf(guest);
  for (const end = Date.now() + ms; !ready(log) && Date.now() < end; log = consoleOf(guest))
    await Bun.sleep(50);
  return log;
}
