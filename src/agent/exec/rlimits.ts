/**
 * rlimit names of the protocol mapped to Linux RLIMIT_* numbers (x86-64 and every other Linux
 * architecture agree on these). u64::MAX is RLIM_INFINITY on Linux, so values pass through.
 */
import { agentdError, err, ErrorCodes, ok, type Result } from "../../errors.ts";
import type { Rlimit } from "../../protocol/payloads.ts";

export const RLIMIT_NUMBERS: Readonly<Record<string, number>> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
};

/** Turns the request's rlimits into exec-helper arguments (`-r RES:SOFT:HARD`). */
export function rlimitArgs(limits: readonly Rlimit[]): Result<string[]> {
  const out: string[] = [];
  for (const l of limits) {
    const name = l.resource.trim().toLowerCase();
    const n = RLIMIT_NUMBERS[name];
    if (n === undefined) {
      const known = Object.keys(RLIMIT_NUMBERS).join(" ");
      return err(agentdError(ErrorCodes.USAGE, `unknown rlimit resource '${l.resource}' (known: ${known})`));
    }
    if (BigInt(l.soft) > BigInt(l.hard)) {
      return err(
        agentdError(ErrorCodes.USAGE, `rlimit ${name}: soft limit ${l.soft} is above hard limit ${l.hard}`),
      );
    }
    out.push("-r", `${n}:${l.soft}:${l.hard}`);
  }
  return ok(out);
}
