/**
 * Turns typed payloads into CBOR values in the Rust struct field order, every field present
 * (null for an absent option), FsOp externally tagged. The only extra key we ever send is the
 * `signal` of exec.exited (ours), and only when the process died by a signal.
 */
import type { CborValue } from "./cbor-encode.ts";
import type { EntryInfo, FsOp, FsResponseData, Message } from "./payloads.ts";

function entry(e: EntryInfo): CborValue {
  return { path: e.path, kind: e.kind, size: e.size, mode: e.mode, modified: e.modified };
}

function fsOp(op: FsOp): CborValue {
  switch (op.op) {
    case "Write":
      return { Write: { path: op.path, mode: op.mode } };
    case "Copy":
    case "Rename":
      return { [op.op]: { src: op.src, dst: op.dst } };
    default:
      return { [op.op]: { path: op.path } };
  }
}

function fsData(d: FsResponseData | null): CborValue {
  if (d === null) return null;
  return "Stat" in d ? { Stat: entry(d.Stat) } : { List: d.List.map(entry) };
}

/** The CBOR value of a message's payload; null for the empty payload of core.shutdown. */
export function payloadValue(m: Message): CborValue | null {
  switch (m.type) {
    case "core.ready": {
      const p = m.payload;
      return { boot_time_ns: p.boot_time_ns, init_time_ns: p.init_time_ns, ready_time_ns: p.ready_time_ns };
    }
    case "core.shutdown":
      return null;
    case "core.exec.request": {
      // Keys the request left out stay out (undefined is skipped by the encoder).
      const p = m.payload;
      return {
        cmd: p.cmd,
        args: p.args,
        env: p.env,
        cwd: p.cwd,
        user: p.user,
        tty: p.tty,
        rows: p.rows,
        cols: p.cols,
        rlimits: p.rlimits?.map((r) => ({ resource: r.resource, soft: r.soft, hard: r.hard })),
      };
    }
    case "core.exec.started":
      return { pid: m.payload.pid };
    case "core.exec.stdin":
    case "core.exec.stdout":
    case "core.exec.stderr":
    case "core.fs.data":
      return { data: m.payload.data };
    case "core.exec.exited":
      return m.payload.signal === undefined
        ? { code: m.payload.code }
        : { code: m.payload.code, signal: m.payload.signal };
    case "core.exec.resize":
      return { rows: m.payload.rows, cols: m.payload.cols };
    case "core.exec.signal":
      return { signal: m.payload.signal };
    case "core.fs.request":
      return { op: fsOp(m.payload.op) };
    case "core.fs.response":
      return { ok: m.payload.ok, error: m.payload.error, data: fsData(m.payload.data) };
  }
}
