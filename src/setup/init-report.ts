/**
 * What init (init/init.c) set up itself before agentd's setup: one word per line on the pipe it
 * closes once the kernel modules are loaded. Setup skips the steps reported here (it would only
 * find them done, and at boot under TCG even finding out took 20-30 ms) and does the rest.
 * Words this agentd does not know are ignored; a step not reported is done by agentd as always.
 */
export interface InitReport {
  /** PROTOCOL.md §8.1 in full: every kernel filesystem with its options, and /dev/fd. */
  readonly kernelFilesystems: boolean;
  /** lo is up (the kernel gives it 127.0.0.1/8 and ::1/128 itself). */
  readonly loopback: boolean;
  /** PROTOCOL.md §8.2: the runtime share is mounted. */
  readonly runtimeShare: boolean;
}

export const NOTHING_REPORTED: InitReport = {
  kernelFilesystems: false,
  loopback: false,
  runtimeShare: false,
};

export function parseInitReport(text: string): InitReport {
  const words = new Set(text.split("\n").map((w) => w.trim()));
  return {
    kernelFilesystems: words.has("kernel-filesystems"),
    loopback: words.has("loopback"),
    runtimeShare: words.has("runtime-share"),
  };
}
