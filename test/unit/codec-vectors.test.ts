/** The codec against every golden frame made by the Rust implementation. */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { encodeDataFrameHead, encodeFrame } from "../../src/protocol/frame.ts";
import { FrameDecoder } from "../../src/protocol/frame-decoder.ts";
import { flagsFor, isMessageType } from "../../src/protocol/messages.ts";
import { payloadValue } from "../../src/protocol/payload-encode.ts";
import type { Frame, Ready } from "../../src/protocol/payloads.ts";
import { encodeReadyFrame } from "../../src/protocol/ready-frame.ts";
import { AgentdError, ErrorCodes } from "../../src/errors.ts";
import { loadVectors, normalize, VECTOR_DIR } from "./vectors.ts";

const vectors = loadVectors();

function decodeOne(bytes: Uint8Array): Frame {
  const d = new FrameDecoder();
  d.push(bytes);
  const ev = d.next();
  if (ev?.kind !== "frame") throw new Error(`expected a frame, got ${JSON.stringify(ev)}`);
  expect(d.next()).toBeNull();
  expect(d.buffered).toBe(0);
  return ev.frame;
}

test("INDEX.md lists all 32 vector files", () => {
  const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith(".hex"));
  expect(files.length).toBe(32);
  expect(vectors.map((v) => v.file).sort()).toEqual(files.sort());
});

describe.each(vectors.map((v) => [v.file, v] as const))("%s", (_name, v) => {
  test("decodes to the type, id, flags and payload INDEX.md lists", () => {
    const f = decodeOne(v.bytes);
    expect(f.type).toBe(v.type as Frame["type"]);
    expect(f.id).toBe(v.id);
    expect(f.flags).toBe(v.flags);
    expect(normalize(payloadValue(f))).toEqual(normalize(v.payload));
  });

  test("re-encodes to the identical bytes", () => {
    const f = decodeOne(v.bytes);
    expect(Buffer.from(encodeFrame(f.id, f)).toString("hex")).toBe(Buffer.from(v.bytes).toString("hex"));
  });

  test("the flags are the ones the message table gives the type", () => {
    expect(isMessageType(v.type)).toBe(true);
    if (isMessageType(v.type)) expect(flagsFor(v.type)).toBe(v.flags);
  });

  test("decodes the same when split at every byte boundary", () => {
    for (let cut = 1; cut < v.bytes.length; cut++) {
      const d = new FrameDecoder();
      d.push(v.bytes.subarray(0, cut));
      expect(d.next()).toBeNull();
      d.push(v.bytes.subarray(cut));
      const ev = d.next();
      expect(ev?.kind).toBe("frame");
      if (ev?.kind === "frame") expect(normalize(payloadValue(ev.frame))).toEqual(normalize(v.payload));
    }
  });

  test("decodes when fed one byte at a time", () => {
    const d = new FrameDecoder();
    let frames = 0;
    for (const b of v.bytes) {
      d.push(Uint8Array.of(b));
      for (let ev = d.next(); ev; ev = d.next()) if (ev.kind === "frame") frames++;
    }
    expect(frames).toBe(1);
  });
});

test("all 32 frames back to back in one buffer decode in order", () => {
  const all = Buffer.concat(vectors.map((v) => v.bytes));
  const d = new FrameDecoder();
  d.push(all);
  const got: string[] = [];
  for (let ev = d.next(); ev; ev = d.next()) if (ev.kind === "frame") got.push(ev.frame.type);
  expect(got).toEqual(vectors.map((v) => v.type));
});

test("a request with only cmd gets the Rust defaults when filled", async () => {
  const { withExecDefaults } = await import("../../src/protocol/payloads.ts");
  const f = decodeOne(vectors.find((v) => v.file === "exec_request_cmd_only.hex")!.bytes);
  if (f.type !== "core.exec.request") throw new Error("wrong type");
  expect(withExecDefaults(f.payload)).toEqual({
    cmd: "true",
    args: [],
    env: [],
    cwd: null,
    user: null,
    tty: false,
    rows: 24,
    cols: 80,
    rlimits: [],
  });
});

test("a request's own values win over the defaults, null and zero included; only absent keys are filled", async () => {
  const { withExecDefaults, EXEC_REQUEST_DEFAULTS } = await import("../../src/protocol/payloads.ts");
  const full = {
    cmd: "x",
    args: ["a"],
    env: ["K=V"],
    cwd: "/w",
    user: "u",
    tty: true,
    rows: 0,
    cols: 1,
    rlimits: [{ resource: "nofile", soft: 1, hard: 2 }],
  };
  expect(withExecDefaults(full)).toEqual(full);
  // The defaults themselves are pinned by the test above.
  expect(withExecDefaults({ cmd: "y", cwd: null, user: undefined, rows: undefined })).toEqual({
    ...EXEC_REQUEST_DEFAULTS,
    cmd: "y",
  });
});

describe("data frames sent as head + data (no copy of the data)", () => {
  const DATA_TYPES = ["core.exec.stdout", "core.exec.stderr", "core.exec.stdin", "core.fs.data"] as const;

  test.each(
    vectors
      .filter((v) => (DATA_TYPES as readonly string[]).includes(v.type))
      .map((v) => [v.file, v] as const),
  )("%s: head + data is the golden frame", (_name, v) => {
    const f = decodeOne(v.bytes);
    const data = (f.payload as { data: Uint8Array }).data;
    const head = encodeDataFrameHead(f.id, f.type as (typeof DATA_TYPES)[number], data.length);
    expect(Buffer.concat([head, data]).toString("hex")).toBe(Buffer.from(v.bytes).toString("hex"));
  });

  test("equals encodeFrame at every CBOR length boundary, for every data type", () => {
    // The data's own head changes size at 24, 256 and 65536; the payload's (data + 7, 8 or 9
    // bytes of key and head) at n = 17, 248 and 65527.
    const lengths = [0, 1, 16, 17, 23, 24, 247, 248, 255, 256, 65526, 65527, 65535, 65536, 1 << 20, 3 << 20];
    for (const type of DATA_TYPES)
      for (const n of lengths) {
        const data = new Uint8Array(n).fill(0xa5);
        const whole = encodeFrame(0x01020304, { type, payload: { data } });
        const head = encodeDataFrameHead(0x01020304, type, n);
        expect({ type, n, same: Buffer.concat([head, data]).equals(Buffer.from(whole)) }).toEqual({
          type,
          n,
          same: true,
        });
      }
  });
});

describe("core.ready written byte by byte (encodeReadyFrame)", () => {
  const readyVectors = vectors.filter((v) => v.type === "core.ready");

  test("the golden core.ready frames are among the vectors", () => {
    expect(readyVectors.map((v) => v.file).sort()).toEqual(["ready.hex", "ready_u64_extremes.hex"]);
  });

  test.each(readyVectors.map((v) => [v.file, v] as const))("%s: the golden frame", (_name, v) => {
    const f = decodeOne(v.bytes);
    if (f.type !== "core.ready") throw new Error(f.type);
    expect(Buffer.from(encodeReadyFrame(f.payload)).toString("hex")).toBe(
      Buffer.from(v.bytes).toString("hex"),
    );
  });

  test("equals encodeFrame at every CBOR integer boundary, as numbers and as BigInts", () => {
    const values = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
    const big = [...values.map((n) => BigInt(n)), 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
    const all: (number | bigint)[] = [...values, ...big];
    for (const a of all)
      for (const b of [0, 2 ** 32 + 7, 2n ** 64n - 1n]) {
        const payload = { boot_time_ns: a, init_time_ns: b, ready_time_ns: a };
        const same = Buffer.from(encodeReadyFrame(payload)).equals(
          Buffer.from(encodeFrame(0, { type: "core.ready", payload })),
        );
        expect({ a: String(a), b: String(b), same }).toEqual({ a: String(a), b: String(b), same: true });
      }
  });

  test("a time that is no u64 is an encode error naming the field", () => {
    const ok = { boot_time_ns: 1, init_time_ns: 2, ready_time_ns: 3 };
    const cases: [Partial<Ready>, string][] = [
      [{ boot_time_ns: -1 }, "boot_time_ns"],
      [{ init_time_ns: 1.5 }, "init_time_ns"],
      [{ ready_time_ns: 2n ** 64n }, "ready_time_ns"],
      [{ ready_time_ns: -1n }, "ready_time_ns"],
    ];
    for (const [bad, field] of cases) {
      let error: unknown = null;
      try {
        encodeReadyFrame({ ...ok, ...bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AgentdError);
      expect((error as AgentdError).code).toBe(ErrorCodes.ENCODE);
      expect((error as AgentdError).message).toContain(field);
    }
  });
});
