/**
 * Typed payloads of every message, with the defaults of the Rust structs. Field order in these
 * interfaces is the wire order; the encoders in payload-encode.ts write exactly that order.
 * u64 fields accept number or bigint (a u64 above 2^53 only fits in a bigint).
 */
import type { MessageType } from "./messages.ts";

export type U64 = number | bigint;

export interface Ready {
  boot_time_ns: U64;
  init_time_ns: U64;
  ready_time_ns: U64;
}

export interface Rlimit {
  resource: string;
  soft: U64;
  hard: U64;
}

/**
 * An exec request as it travels. Keys other than `cmd` may be missing on the wire (the Rust
 * struct has serde defaults); the decoder keeps them missing so a frame re-encodes to the same
 * bytes, and `withExecDefaults` gives the complete request a handler works with.
 */
export interface ExecRequest {
  cmd: string;
  args?: string[];
  env?: string[];
  cwd?: string | null;
  user?: string | null;
  tty?: boolean;
  rows?: number;
  cols?: number;
  rlimits?: Rlimit[];
}

/** An exec request with every default applied. */
export type FullExecRequest = Required<ExecRequest>;

export const EXEC_REQUEST_DEFAULTS: Omit<FullExecRequest, "cmd"> = {
  args: [],
  env: [],
  cwd: null,
  user: null,
  tty: false,
  rows: 24,
  cols: 80,
  rlimits: [],
};

/**
 * Fills the Rust defaults for every key the request left out. Key by key: spreads,
 * Object.entries() and filter() are builtins compiled on their first call, and a guest's first
 * exec ran them here for the first time (11-12 ms at boot under TCG).
 */
export function withExecDefaults(r: ExecRequest): FullExecRequest {
  const d = EXEC_REQUEST_DEFAULTS;
  return {
    cmd: r.cmd,
    args: r.args === undefined ? d.args : r.args,
    env: r.env === undefined ? d.env : r.env,
    cwd: r.cwd === undefined ? d.cwd : r.cwd,
    user: r.user === undefined ? d.user : r.user,
    tty: r.tty === undefined ? d.tty : r.tty,
    rows: r.rows === undefined ? d.rows : r.rows,
    cols: r.cols === undefined ? d.cols : r.cols,
    rlimits: r.rlimits === undefined ? d.rlimits : r.rlimits,
  };
}

export interface ExecStarted {
  pid: number;
}

/** stdin, stdout, stderr and fs.data: a chunk of bytes; empty means end of stream. */
export interface DataChunk {
  data: Uint8Array;
}

export interface ExecExited {
  code: number;
  /** (ours) the signal that killed the process; absent when it exited normally. */
  signal?: number;
}

export interface ExecResize {
  rows: number;
  cols: number;
}

export interface ExecSignal {
  signal: number;
}

export type FsOp =
  | { op: "Stat"; path: string }
  | { op: "List"; path: string }
  | { op: "Read"; path: string }
  | { op: "Write"; path: string; mode: number | null }
  | { op: "Mkdir"; path: string }
  | { op: "Remove"; path: string }
  | { op: "RemoveDir"; path: string }
  | { op: "Copy"; src: string; dst: string }
  | { op: "Rename"; src: string; dst: string };

export type FsOpName = FsOp["op"];

export const FS_OP_NAMES: readonly FsOpName[] = [
  "Stat",
  "List",
  "Read",
  "Write",
  "Mkdir",
  "Remove",
  "RemoveDir",
  "Copy",
  "Rename",
];

export interface FsRequest {
  op: FsOp;
}

export type EntryKind = "file" | "dir" | "symlink" | "other";

export interface EntryInfo {
  path: string;
  kind: EntryKind;
  size: U64;
  mode: number;
  modified: number | null;
}

export type FsResponseData = { Stat: EntryInfo } | { List: EntryInfo[] };

export interface FsResponse {
  ok: boolean;
  error: string | null;
  data: FsResponseData | null;
}

/** Payload type of each message type. */
export interface PayloadOf {
  [MessageType.Ready]: Ready;
  [MessageType.Shutdown]: null;
  [MessageType.ExecRequest]: ExecRequest;
  [MessageType.ExecStarted]: ExecStarted;
  [MessageType.ExecStdin]: DataChunk;
  [MessageType.ExecStdout]: DataChunk;
  [MessageType.ExecStderr]: DataChunk;
  [MessageType.ExecExited]: ExecExited;
  [MessageType.ExecResize]: ExecResize;
  [MessageType.ExecSignal]: ExecSignal;
  [MessageType.FsRequest]: FsRequest;
  [MessageType.FsResponse]: FsResponse;
  [MessageType.FsData]: DataChunk;
}

/** A typed message: its wire type and payload. */
export type Message = {
  [K in keyof PayloadOf]: { type: K; payload: PayloadOf[K] };
}[keyof PayloadOf];

/** A message together with its frame header. */
export type Frame = Message & { id: number; flags: number };
