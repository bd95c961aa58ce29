/**
 * Checks a decoded CBOR payload against the shape of its message type and fills the Rust
 * defaults for missing keys. Unknown keys are ignored (as serde does). Every failure names the
 * field and what was wrong with it, e.g. `rows: expected u16, got 70000`.
 */
import { err, ok, type Result } from "../errors.ts";
import type { Decoded } from "./cbor-decode.ts";
import type { MessageTypeName } from "./messages.ts";
import {
  FS_OP_NAMES,
  type EntryInfo,
  type EntryKind,
  type FsOp,
  type FsOpName,
  type FsResponseData,
  type PayloadOf,
  type Rlimit,
  type U64,
} from "./payloads.ts";

class Invalid extends Error {}

type Obj = { [key: string]: Decoded };
const U64_MAX = (1n << 64n) - 1n;

function show(v: Decoded): string {
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (Array.isArray(v)) return "array";
  if (v === undefined) return "nothing";
  if (typeof v === "object" && v !== null) return "map";
  return typeof v === "string" ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v) : String(v);
}

function map(v: Decoded, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new Invalid(`${what}: expected a map, got ${show(v)}`);
  }
  return v as Obj;
}

function present(o: Obj, key: string): Decoded {
  const v = o[key];
  if (v === undefined) throw new Invalid(`${key}: missing`);
  return v;
}

function text(v: Decoded, what: string): string {
  if (typeof v !== "string") throw new Invalid(`${what}: expected text, got ${show(v)}`);
  return v;
}

function optText(v: Decoded, what: string): string | null {
  return v === undefined || v === null ? null : text(v, what);
}

function bool(v: Decoded, what: string): boolean {
  if (typeof v !== "boolean") throw new Invalid(`${what}: expected bool, got ${show(v)}`);
  return v;
}

function bytes(v: Decoded, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Invalid(`${what}: expected a byte string, got ${show(v)}`);
  return v;
}

/**
 * An integer within [min, max], bounds a double holds exactly (32 bits at most). No BigInt: the
 * decoder gives a number for anything this small, and an exec request's first decode at boot
 * ran BigInt's arithmetic for the first time for its rows and cols.
 */
function int(v: Decoded, what: string, kind: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new Invalid(`${what}: expected ${kind}, got ${show(v)}`);
  return v;
}

const u16 = (v: Decoded, w: string) => int(v, w, "u16", 0, 0xffff);
const u32 = (v: Decoded, w: string) => int(v, w, "u32", 0, 0xffffffff);
const i32 = (v: Decoded, w: string) => int(v, w, "i32", -(2 ** 31), 2 ** 31 - 1);

function u64(v: Decoded, what: string): U64 {
  if (typeof v === "bigint" && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  throw new Invalid(`${what}: expected u64, got ${show(v)}`);
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function i64OrNull(v: Decoded, what: string): number | null {
  if (v === null || v === undefined) return null;
  // 2^63 as a double is I64_MAX + 1: a number must stay below it.
  if (typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) return v;
  if (typeof v === "bigint" && v >= I64_MIN && v <= I64_MAX) return Number(v);
  throw new Invalid(`${what}: expected i64, got ${show(v)}`);
}

function list<T>(v: Decoded, what: string, item: (x: Decoded, w: string) => T): T[] {
  if (!Array.isArray(v)) throw new Invalid(`${what}: expected an array, got ${show(v)}`);
  // A loop, not map(): a builtin compiled on its first call (an exec request's first decode).
  const out: T[] = [];
  for (let i = 0; i < v.length; i++) out.push(item(v[i], `${what}[${i}]`));
  return out;
}

/** A key that may be missing but, when present, must have the right type. */
function optional<T>(o: Obj, key: string, read: (x: Decoded, w: string) => T): T | undefined {
  const v = o[key];
  return v === undefined ? undefined : read(v, key);
}

function rlimit(v: Decoded, what: string): Rlimit {
  const o = map(v, what);
  return {
    resource: text(present(o, "resource"), `${what}.resource`),
    soft: u64(present(o, "soft"), `${what}.soft`),
    hard: u64(present(o, "hard"), `${what}.hard`),
  };
}

function fsOp(v: Decoded): FsOp {
  const o = map(v, "op");
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new Invalid(`op: expected one variant, got ${keys.length} keys`);
  const name = keys[0]!;
  if (!(FS_OP_NAMES as readonly string[]).includes(name))
    throw new Invalid(`op: unknown variant ${JSON.stringify(name)}`);
  const body = map(o[name], `op.${name}`);
  const path = () => text(present(body, "path"), `op.${name}.path`);
  const pair = () => ({
    src: text(present(body, "src"), `op.${name}.src`),
    dst: text(present(body, "dst"), `op.${name}.dst`),
  });
  const op = name as FsOpName;
  switch (op) {
    case "Write":
      return { op, path: path(), mode: body["mode"] == null ? null : u32(body["mode"], "op.Write.mode") };
    case "Copy":
    case "Rename":
      return { op, ...pair() };
    default:
      return { op, path: path() };
  }
}

const KINDS: readonly EntryKind[] = ["file", "dir", "symlink", "other"];

function entryInfo(v: Decoded, what: string): EntryInfo {
  const o = map(v, what);
  const kind = text(present(o, "kind"), `${what}.kind`);
  if (!(KINDS as readonly string[]).includes(kind))
    throw new Invalid(`${what}.kind: unknown kind ${JSON.stringify(kind)}`);
  return {
    path: text(present(o, "path"), `${what}.path`),
    kind: kind as EntryKind,
    size: u64(present(o, "size"), `${what}.size`),
    mode: u32(present(o, "mode"), `${what}.mode`),
    modified: i64OrNull(o["modified"], `${what}.modified`),
  };
}

function fsResponseData(v: Decoded): FsResponseData | null {
  if (v === null || v === undefined) return null;
  const o = map(v, "data");
  if ("Stat" in o) return { Stat: entryInfo(o["Stat"], "data.Stat") };
  if ("List" in o) return { List: list(o["List"], "data.List", entryInfo) };
  throw new Invalid(`data: unknown variant ${JSON.stringify(Object.keys(o)[0] ?? "")}`);
}

type Decoders = { [K in MessageTypeName]: (o: Obj) => PayloadOf[K] };

const DECODERS: Decoders = {
  "core.ready": (o) => ({
    boot_time_ns: u64(present(o, "boot_time_ns"), "boot_time_ns"),
    init_time_ns: u64(present(o, "init_time_ns"), "init_time_ns"),
    ready_time_ns: u64(present(o, "ready_time_ns"), "ready_time_ns"),
  }),
  "core.shutdown": () => null,
  // Missing keys stay missing (see ExecRequest); withExecDefaults fills them for the handler.
  "core.exec.request": (o) => ({
    cmd: text(present(o, "cmd"), "cmd"),
    args: optional(o, "args", (v, w) => list(v, w, text)),
    env: optional(o, "env", (v, w) => list(v, w, text)),
    cwd: optional(o, "cwd", optText),
    user: optional(o, "user", optText),
    tty: optional(o, "tty", bool),
    rows: optional(o, "rows", u16),
    cols: optional(o, "cols", u16),
    rlimits: optional(o, "rlimits", (v, w) => list(v, w, rlimit)),
  }),
  "core.exec.started": (o) => ({ pid: u32(present(o, "pid"), "pid") }),
  "core.exec.stdin": (o) => ({ data: bytes(present(o, "data"), "data") }),
  "core.exec.stdout": (o) => ({ data: bytes(present(o, "data"), "data") }),
  "core.exec.stderr": (o) => ({ data: bytes(present(o, "data"), "data") }),
  "core.exec.exited": (o) => {
    const code = i32(present(o, "code"), "code");
    return o["signal"] == null ? { code } : { code, signal: i32(o["signal"], "signal") };
  },
  "core.exec.resize": (o) => ({
    rows: u16(present(o, "rows"), "rows"),
    cols: u16(present(o, "cols"), "cols"),
  }),
  "core.exec.signal": (o) => ({ signal: i32(present(o, "signal"), "signal") }),
  "core.fs.request": (o) => ({ op: fsOp(present(o, "op")) }),
  "core.fs.response": (o) => ({
    ok: bool(present(o, "ok"), "ok"),
    error: optText(o["error"], "error"),
    data: fsResponseData(o["data"]),
  }),
  "core.fs.data": (o) => ({ data: bytes(present(o, "data"), "data") }),
};

/**
 * Validates the decoded payload of a message of type `t`. `value` is undefined when the payload
 * byte string was empty (only core.shutdown has that payload).
 */
export function decodePayload<K extends MessageTypeName>(t: K, value: Decoded): Result<PayloadOf[K], string> {
  try {
    if (t === "core.shutdown") return ok(null as PayloadOf[K]);
    return ok(DECODERS[t](map(value, "payload")) as PayloadOf[K]);
  } catch (e) {
    if (e instanceof Invalid) return err(e.message);
    throw e;
  }
}
