/**
 * LZ4's legacy frame (`lz4 -l`), the format of the kernel inside a Debian bzImage: a 4-byte
 * magic, then blocks, each a 4-byte little-endian compressed size and an LZ4 block that stands on
 * its own (it refers only to bytes of its own output). Decoded here so that the image builder can
 * take the kernel out of its bzImage (vmlinux.ts) without a host tool. Errors name the offset.
 */

export const LZ4_LEGACY_MAGIC = 0x184c2102;

/**
 * The bytes of a legacy frame, `size` bytes once decoded (the kernel build appends it to the
 * frame). A block size running past the end ends the frame (that appended size, read as one).
 */
export function decodeLz4Legacy(frame: Uint8Array, size: number): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 4 || view.getUint32(0, true) !== LZ4_LEGACY_MAGIC)
    throw new Error("lz4: no legacy frame magic");
  const out = new Uint8Array(size);
  let at = 4;
  let op = 0;
  while (at + 4 <= frame.length) {
    const blockSize = view.getUint32(at, true);
    // Frames may follow one another, each with its magic.
    if (blockSize === LZ4_LEGACY_MAGIC) {
      at += 4;
      continue;
    }
    if (blockSize === 0 || at + 4 + blockSize > frame.length) break;
    op = decodeBlock(frame, at + 4, at + 4 + blockSize, out, op);
    at += 4 + blockSize;
  }
  if (op !== size) throw new Error(`lz4: decoded ${op} bytes, expected ${size}`);
  return out;
}

/** One LZ4 block, src[start, end) into out from `op`; returns the output's new end. */
function decodeBlock(src: Uint8Array, start: number, end: number, out: Uint8Array, op: number): number {
  const blockStart = op;
  let ip = start;
  const extend = (n: number): number => {
    let b: number;
    do {
      if (ip >= end) throw new Error(`lz4: length runs past the block at ${ip}`);
      b = src[ip++]!;
      n += b;
    } while (b === 255);
    return n;
  };
  for (;;) {
    const token = src[ip++]!;
    let literals = token >> 4;
    if (literals === 15) literals = extend(literals);
    if (ip + literals > end || op + literals > out.length)
      throw new Error(`lz4: literals run past the block or the output at ${ip}`);
    out.set(src.subarray(ip, ip + literals), op);
    ip += literals;
    op += literals;
    // The last sequence is literals only.
    if (ip >= end) return op;
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    let match = token & 15;
    if (match === 15) match = extend(match);
    match += 4;
    if (offset === 0 || op - offset < blockStart || op + match > out.length)
      throw new Error(`lz4: bad match (offset ${offset}, length ${match}) at ${ip}`);
    const from = op - offset;
    if (offset >= match) out.copyWithin(op, from, from + match);
    // Overlapping: each byte may be one this match has just written.
    else for (let i = 0; i < match; i++) out[op + i] = out[from + i]!;
    op += match;
  }
}
