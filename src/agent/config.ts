/**
 * What the serving side needs to know about its surroundings, fixed at start: the environment
 * children inherit, where the exec helper is, the runtime directory, and the ready times.
 */
import type { Ready } from "../protocol/payloads.ts";
import type { PartialJournal } from "./fs/partials.ts";

export interface AgentConfig {
  /** Environment children inherit (agentd's own, minus MSB_* control variables). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Path of the static exec helper (agentd-exec). */
  readonly execHelper: string;
  /** Directory of host-provided scripts, prepended to PATH. */
  readonly scriptsPath: string;
  /** Guest files that name users and groups. */
  readonly passwdFile: string;
  readonly groupFile: string;
  /** Default exec user (MSB_USER), if any. */
  readonly defaultUser: string | null;
  /** Times reported in core.ready. */
  readonly ready: Ready;
  /** Where stdin a child has not read yet is spilled (see exec/stdin-spill.ts). */
  readonly spillDir: string;
  /** Journal of upload temp files, cleaned at start (see fs/partials.ts). */
  readonly partials: PartialJournal | null;
}
