/**
 * agentctl's exit codes, one table so help text, code and tests agree. exec and shell follow the
 * shell and `docker exec`: the command's own code, 126 could not execute, 127 not found, 128+N
 * killed by signal N, and 125 when agentctl itself failed (usage, connection), so a script can
 * tell "the command failed" from "we never ran it".
 */
import { AgentdError, ErrorCodes } from "../../errors.ts";
import type { ExecExited } from "../../protocol/payloads.ts";
import { ExecStartError } from "../errors.ts";

export const Exit = {
  OK: 0,
  /** The guest refused or failed the operation (missing path, permission…). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The agent could not be reached, or the connection dropped. */
  UNREACHABLE: 3,
  /** exec/shell: agentctl itself failed before or while running the command. */
  EXEC_AGENTCTL: 125,
  EXEC_CANNOT_RUN: 126,
  EXEC_NOT_FOUND: 127,
  /** exec/shell: the guest reported no exit status (code -1 without a signal). */
  EXEC_UNKNOWN: 255,
} as const;

export const EXIT_CODES_HELP = `exit codes: 0 ok, 1 the guest refused the operation, 2 usage error, 3 agent unreachable;
exec/shell: the command's code, 126 cannot run, 127 not found, 128+N killed by signal N,
125 agentctl failed (usage, connection), 255 no exit status`;

/** The exit code of agentctl for an error of a non-exec command. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof AgentdError) {
    if (e.code === ErrorCodes.USAGE) return Exit.USAGE;
    if (e.code === ErrorCodes.CONNECTION) return Exit.UNREACHABLE;
  }
  return Exit.FAILED;
}

/** The exit code of exec/shell for an error: a start failure is 126/127, anything else 125. */
export function execErrorCode(e: unknown): number {
  if (e instanceof ExecStartError) return e.notFound ? Exit.EXEC_NOT_FOUND : Exit.EXEC_CANNOT_RUN;
  return Exit.EXEC_AGENTCTL;
}

/** The exit code of exec/shell for a command that ran (or was refused by the guest). */
export function execExitCode(exit: ExecExited, startError: unknown): number {
  if (startError) return execErrorCode(startError);
  if (exit.signal !== undefined && exit.signal !== null) return 128 + exit.signal;
  return exit.code < 0 ? Exit.EXEC_UNKNOWN : exit.code & 0xff;
}
