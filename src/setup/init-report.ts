/**
 * What init (init/init.c) set up itself before agentd's setup: one line per thing on the pipe it
 * closes once the kernel modules are loaded. Setup skips the steps reported here (it would only
 * find them done, and at boot under TCG even finding out took 20-30 ms) and does the rest.
 * Lines this agentd does not know are ignored; a step not reported is done by agentd as always.
 *
 * Parsed with indexOf alone: split, map, trim and a Set took 5.5-6.7 ms here at boot, each
 * builtin's first call being slow under TCG (src/sys/cstr.ts).
 */
export interface InitReport {
  /** "kernel-filesystems": PROTOCOL.md §8.1 in full, every kernel filesystem with its options, and /dev/fd. */
  readonly kernelFilesystems: boolean;
  /** "loopback": lo is up (the kernel gives it 127.0.0.1/8 and ::1/128 itself). */
  readonly loopback: boolean;
  /** "runtime-share": PROTOCOL.md §8.2, the runtime share is mounted. */
  readonly runtimeShare: boolean;
  /** "port <path>": the device node of the virtio port named `agent`. */
  readonly port: string | null;
}

export const NOTHING_REPORTED: InitReport = {
  kernelFilesystems: false,
  loopback: false,
  runtimeShare: false,
  port: null,
};

export function parseInitReport(text: string): InitReport {
  const padded = `\n${text}\n`;
  const has = (word: string) => padded.includes(`\n${word}\n`);
  return {
    kernelFilesystems: has("kernel-filesystems"),
    loopback: has("loopback"),
    runtimeShare: has("runtime-share"),
    port: valueOf(padded, "port"),
  };
}

/** The rest of the line `<key> <value>`, or null when there is none (or it is empty). */
function valueOf(padded: string, key: string): string | null {
  const at = padded.indexOf(`\n${key} `);
  if (at < 0) return null;
  const start = at + key.length + 2;
  const value = padded.slice(start, padded.indexOf("\n", start));
  return value.length > 0 ? value : null;
}
