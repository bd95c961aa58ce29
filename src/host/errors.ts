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

/**
 * A request would be a frame over the protocol's largest (MAX_FRAME_SIZE): the agent would skip
 * it unanswered, so the client refuses to send it.
 */
export class FrameTooLargeError extends AgentdError {
  constructor(
    readonly type: string,
    readonly length: number,
    readonly max: number,
  ) {
    super(
      ErrorCodes.FRAME_TOO_LARGE,
      `${type} would be a frame of ${length} bytes, over the largest the protocol allows (${max}): ` +
        `pass large data on stdin or as a file instead of in arguments, environment or paths`,
    );
    this.name = "FrameTooLargeError";
  }
}
