/**
 * The one factory for agentd's errors. Every error carries a stable code (documented below and in
 * the README) so callers and tests match on the code, never on message text.
 */

/** Stable error codes. Adding one is fine; renaming one is a breaking change. */
export const ErrorCodes = {
  /** A frame declared a length above MAX_FRAME_SIZE; its bytes were skipped. */
  FRAME_TOO_LARGE: "AGENTD_ERR_FRAME_TOO_LARGE",
  /** A frame declared a length below FRAME_HEADER_SIZE; its bytes were skipped. */
  FRAME_TOO_SHORT: "AGENTD_ERR_FRAME_TOO_SHORT",
  /** A frame body was not valid CBOR or not the {v,t,p} envelope. */
  BAD_ENVELOPE: "AGENTD_ERR_BAD_ENVELOPE",
  /** The envelope named a message type this protocol version does not have. */
  UNKNOWN_TYPE: "AGENTD_ERR_UNKNOWN_TYPE",
  /** A known message type carried a payload of the wrong shape. */
  BAD_PAYLOAD: "AGENTD_ERR_BAD_PAYLOAD",
  /** A value could not be CBOR-encoded (a programming error, never input). */
  ENCODE: "AGENTD_ERR_ENCODE",
  /** A request reused the id of a session that is still running. */
  DUPLICATE_SESSION: "AGENTD_ERR_DUPLICATE_SESSION",
  /** The connection to the agent closed or could not be opened. */
  CONNECTION: "AGENTD_ERR_CONNECTION",
  /** The agent answered a request with an error. */
  REMOTE: "AGENTD_ERR_REMOTE",
  /** A command-line argument or option was wrong. */
  USAGE: "AGENTD_ERR_USAGE",
  /** A system call failed. */
  SYSCALL: "AGENTD_ERR_SYSCALL",
  /** A MSB_* setup variable did not follow its grammar. */
  SETUP_GRAMMAR: "AGENTD_ERR_SETUP_GRAMMAR",
  /** A guest setup step could not be done as asked. */
  SETUP_FAILED: "AGENTD_ERR_SETUP_FAILED",
  /** A user or group in an exec request could not be resolved. */
  USER: "AGENTD_ERR_USER",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error with a stable code. Thrown only at boundaries; inside, it travels as a value. */
export class AgentdError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "AgentdError";
    this.code = code;
  }
}

/** Builds an AgentdError; the single place errors of agentd are made. */
export function agentdError(code: ErrorCode, message: string): AgentdError {
  return new AgentdError(code, message);
}

/** Either a value or an error, for functions whose failure is an expected outcome. */
export type Result<T, E = AgentdError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const err = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });

/** Message of any thrown value, for logs. */
export function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
