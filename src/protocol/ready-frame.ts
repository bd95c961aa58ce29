/**
 * core.ready's frame, written byte by byte: the first frame agentd sends at boot, and the last
 * thing between the port's first round and the host. The general encoder (frame.ts's encodeFrame)
 * measures, walks the payload's keys, encodes their text and caches the envelope prefix, all run
 * for the first time then; under TCG that first encode took 4-6 ms of the way to core.ready (boot
 * marks, three boots). The bytes are encodeFrame's, to the byte (test/unit/codec-vectors.test.ts,
 * also against the Rust agent's golden core.ready frames).
 */
import { agentdError, ErrorCodes } from "../errors.ts";
import { putCborHead, putUint32 } from "./frame-head.ts";
import type { Ready, U64 } from "./payloads.ts";

/**
 * The frame up to the payload's length: len (filled in), id 0, flags 0, the envelope
 * `{"v": 1, "t": "core.ready", "p": ` and the payload's byte-string head with a one-byte length
 * (the payload is 44-71 bytes).
 */
// prettier-ignore
const HEAD = new Uint8Array([
  0, 0, 0, 0, 0, 0, 0, 0, 0,
  0xa3, 0x61, 0x76, 0x01, 0x61, 0x74,
  0x6a, 0x63, 0x6f, 0x72, 0x65, 0x2e, 0x72, 0x65, 0x61, 0x64, 0x79, // "core.ready"
  0x61, 0x70, 0x58,
]);
/** The payload starts here, after its one-byte length at PAYLOAD_AT - 1. */
const PAYLOAD_AT = HEAD.length + 1;
/** A map of three, then each key as CBOR text. */
const MAP3 = 0xa3;
// prettier-ignore
const BOOT_KEY = new Uint8Array([0x6c, 0x62, 0x6f, 0x6f, 0x74, 0x5f, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x6e, 0x73]);
// prettier-ignore
const INIT_KEY = new Uint8Array([0x6c, 0x69, 0x6e, 0x69, 0x74, 0x5f, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x6e, 0x73]);
// prettier-ignore
const READY_KEY = new Uint8Array([0x6d, 0x72, 0x65, 0x61, 0x64, 0x79, 0x5f, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x6e, 0x73]);
/** The largest frame: three keys and three 9-byte integers. */
const MAX_SIZE = PAYLOAD_AT + 1 + BOOT_KEY.length + INIT_KEY.length + READY_KEY.length + 3 * 9;
const TWO_32 = 0x100000000;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const U64_MAX = (1n << 64n) - 1n;

/** The frame of core.ready with these times, as encodeFrame(0, {type: "core.ready", ...}) gives it. */
export function encodeReadyFrame(ready: Ready): Uint8Array {
  const out = new Uint8Array(MAX_SIZE);
  out.set(HEAD, 0);
  let at = PAYLOAD_AT;
  out[at++] = MAP3;
  at = putKeyAndU64(out, at, BOOT_KEY, ready.boot_time_ns, "boot_time_ns");
  at = putKeyAndU64(out, at, INIT_KEY, ready.init_time_ns, "init_time_ns");
  at = putKeyAndU64(out, at, READY_KEY, ready.ready_time_ns, "ready_time_ns");
  out[PAYLOAD_AT - 1] = at - PAYLOAD_AT;
  // len counts id, flags and body: everything after itself.
  putUint32(out, 0, at - 4);
  return out.subarray(0, at);
}

function putKeyAndU64(out: Uint8Array, at: number, key: Uint8Array, value: U64, name: string): number {
  out.set(key, at);
  at += key.length;
  if (typeof value === "bigint") {
    // As a number when it is one exactly (below 2^53 ns, 104 days): no BigInt arithmetic.
    if (value >= 0n && value <= SAFE_MAX) return putU64(out, at, Number(value));
    if (value < 0n || value > U64_MAX)
      throw agentdError(ErrorCodes.ENCODE, `core.ready ${name} out of the u64 range: ${value}`);
    return putHalves(out, at, Number(value >> 32n), Number(value & 0xffffffffn));
  }
  if (!Number.isSafeInteger(value) || value < 0)
    throw agentdError(ErrorCodes.ENCODE, `core.ready ${name} is not a u64: ${value}`);
  return putU64(out, at, value);
}

/** CBOR unsigned `n` (a safe integer ≥ 0) in its shortest form at `at`; the offset after it. */
function putU64(out: Uint8Array, at: number, n: number): number {
  if (n < TWO_32) return putCborHead(out, at, 0, n);
  return putHalves(out, at, Math.floor(n / TWO_32), n >>> 0);
}

/** CBOR unsigned of 2^32 or more, as its two 32-bit halves (major 0, argument 27). */
function putHalves(out: Uint8Array, at: number, hi: number, lo: number): number {
  out[at] = 27;
  putUint32(out, at + 1, hi);
  putUint32(out, at + 5, lo);
  return at + 9;
}
