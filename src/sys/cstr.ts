/**
 * Strings for libc: UTF-8 bytes, and C strings (the same with a NUL at the end).
 *
 * TextEncoder, not Buffer.from: Buffer's static functions are JavaScript that Bun compiles on
 * their first call, and before core.ready every first call counts. Cold in the guest under TCG
 * (a compiled program with init's settings, two runs): Buffer.from's first call 15-21 ms,
 * TextEncoder's ~1 ms. The same goes for Uint8Array.from (41-43 ms) and Uint8Array.of (2-7 ms)
 * against the constructor (~1 ms): code on the way to core.ready builds typed arrays with `new`.
 */
const encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function cstr(s: string): Uint8Array {
  return encoder.encode(s + "\0");
}
