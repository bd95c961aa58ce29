/**
 * Errors the client library gives its callers: typed, with the stable codes of src/errors.ts,
 * and messages that say what to do next.
 */
import { AgentdError, ErrorCodes } from "../errors.ts";

/** The agent answered an fs request with an error; `prefix` is the failing step ("stat", "open"…). */
export class RemoteFsError extends AgentdError {
  readonly prefix: string;
  constructor(
    readonly op: string,
    readonly path: string,
    readonly remote: string,
  ) {
    super(ErrorCodes.REMOTE, `${op} ${path}: ${remote}`);
    this.name = "RemoteFsError";
    this.prefix = remote.split(":")[0] ?? "";
  }
  /** True when the guest said the path does not exist. */
  get notFound(): boolean {
    return /No such file or directory/.test(this.remote);
  }
}

export class ConnectionError extends AgentdError {
  constructor(message: string) {
    super(ErrorCodes.CONNECTION, message);
    this.name = "ConnectionError";
  }
}

/** The guest could not start a command (not found, not executable, unknown user, bad rlimit). */
export class ExecStartError extends AgentdError {
  constructor(message: string) {
    super(ErrorCodes.REMOTE, message);
    this.name = "ExecStartError";
  }
  /** True when the command (or its working directory) does not exist. */
  get notFound(): boolean {
    return /No such file or directory/.test(this.message);
  }
}
