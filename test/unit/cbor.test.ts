/** The CBOR encoder's shortest-form integers and the decoder's bounds on hostile input. */
import { describe, expect, test } from "bun:test";
import { decodeCbor } from "../../src/protocol/cbor-decode.ts";
import { encodeCbor } from "../../src/protocol/cbor-encode.ts";

const hex = (v: Parameters<typeof encodeCbor>[0]) => Buffer.from(encodeCbor(v)).toString("hex");
const dec = (h: string) => decodeCbor(Uint8Array.from(Buffer.from(h, "hex")));

describe("encoder", () => {
  test.each([
    [0, "00"],
    [23, "17"],
    [24, "1818"],
    [255, "18ff"],
    [256, "190100"],
    [65535, "19ffff"],
    [65536, "1a00010000"],
    [2 ** 32 - 1, "1affffffff"],
    [2 ** 32, "1b0000000100000000"],
    [Number.MAX_SAFE_INTEGER, "1b001fffffffffffff"],
    [-1, "20"],
    [-24, "37"],
    [-25, "3818"],
    [-(2 ** 31), "3a7fffffff"],
  ])("writes %p in its shortest form", (n, h) => {
    expect(hex(n)).toBe(h);
  });

  test("a BigInt writes the same bytes as the number it equals, on both sides of 2^53 and 2^32", () => {
    for (const n of [
      0,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2_931_200_000_000,
      Number.MAX_SAFE_INTEGER,
    ])
      expect(hex(BigInt(n))).toBe(hex(n));
    expect(hex(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toBe("1b0020000000000000");
    expect(hex(-1n)).toBe("20");
    expect(hex(-(1n << 63n))).toBe("3b7fffffffffffffff");
  });
  test("writes u64::MAX from a bigint and never a float", () => {
    expect(hex((1n << 64n) - 1n)).toBe("1bffffffffffffffff");
    expect(hex(5n)).toBe("05");
  });

  test("refuses non-integers and out-of-range integers", () => {
    expect(() => encodeCbor(1.5)).toThrow();
    expect(() => encodeCbor(1n << 64n)).toThrow();
  });

  test("writes byte strings as major type 2, untagged, and maps in insertion order", () => {
    expect(hex({ z: Uint8Array.of(1, 2), a: null })).toBe("a2617a4201026161f6");
  });

  test("skips undefined map entries and writes multi-byte text lengths", () => {
    expect(hex({ a: undefined, b: true })).toBe("a16162f5");
    expect(hex("é".repeat(12))).toBe("7818" + Buffer.from("é".repeat(12)).toString("hex"));
  });
});

describe("decoder", () => {
  test("round-trips what the encoder writes", () => {
    const v = { a: [1, -2, "x", Uint8Array.of(9)], b: { c: null, d: false }, e: (1n << 64n) - 1n };
    const r = decodeCbor(encodeCbor(v));
    expect(r.ok && r.value).toEqual(v as never);
  });

  test("reads indefinite-length arrays, maps, byte and text strings", () => {
    expect(dec("9f0102ff")).toEqual({ ok: true, value: [1, 2] });
    const m = dec("bf6161 01ff".replace(/ /g, ""));
    expect(m.ok && { ...(m.value as object) }).toEqual({ a: 1 });
    const b = dec("5f41014102ff");
    expect(b.ok && Array.from(b.value as Uint8Array)).toEqual([1, 2]);
    expect(dec("7f6161 6162ff".replace(/ /g, ""))).toEqual({ ok: true, value: "ab" });
  });

  test("reads half, single and double floats", () => {
    expect(dec("f93c00")).toEqual({ ok: true, value: 1 });
    expect(dec("fa3fc00000")).toEqual({ ok: true, value: 1.5 });
    expect(dec("fb3ff8000000000000")).toEqual({ ok: true, value: 1.5 });
  });

  test.each([
    ["a truncated item", "1a0001"],
    ["an array claiming 2^32 items in 5 bytes", "9affffffff"],
    ["bytes claiming 2^64 length", "5bffffffffffffffff00"],
    ["invalid UTF-8 text", "62c328"],
    ["a reserved additional info", "1c"],
    ["a break outside indefinite", "ff"],
    ["trailing bytes", "0000"],
    ["empty input", ""],
  ])("rejects %s without throwing", (_name, h) => {
    const r = dec(h);
    expect(r.ok).toBe(false);
  });

  test("rejects nesting deeper than the limit without a stack overflow", () => {
    const deep = Uint8Array.from([...new Array(100000).fill(0x81), 0x00]);
    const r = decodeCbor(deep);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain("nesting");
  });

  test("ignores non-text map keys", () => {
    const r = dec("a2010261610 3".replace(/ /g, ""));
    expect(r.ok && { ...(r.value as object) }).toEqual({ a: 3 });
  });
});
