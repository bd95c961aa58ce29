/**
 * The kernel ELF out of a bzImage (src/host/image/vmlinux.ts) and LZ4's legacy frame
 * (src/host/image/lz4.ts): frames made by the lz4 tool (`lz4 -l`), and bzImages built here
 * around an ELF with and without the PVH entry note. The image built from Debian's kernel is
 * booted by the VM tests (test/vm/lifecycle.test.ts checks the guest started at its PVH entry).
 */
import { describe, expect, test } from "bun:test";
import { decodeLz4Legacy } from "../../src/host/image/lz4.ts";
import { extractPvhKernel, hasPvhEntry } from "../../src/host/image/vmlinux.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const TEXT = "hello hello hello hello agentd agentd agentd abcabcabcabcabcabc 0123456789 end";
/** `lz4 -l -9` of TEXT: literals, matches, and an overlapping one (abcabc...). */
const FRAME = hex(
  "02214c18280000006e68656c6c6f2006006c6167656e746407002b62630300f000203031323334353637383920656e64",
);

/** An LZ4 block of literals only, which every decoder must take. */
function storedBlock(data: Uint8Array): Uint8Array {
  const ext: number[] = [];
  if (data.length >= 15) {
    let n = data.length - 15;
    while (n >= 255) {
      ext.push(255);
      n -= 255;
    }
    ext.push(n);
  }
  return new Uint8Array([(Math.min(data.length, 15) << 4) | 0, ...ext, ...data]);
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function legacyFrame(blocks: Uint8Array[]): Uint8Array {
  const out: number[] = le32(0x184c2102);
  for (const b of blocks) out.push(...le32(b.length), ...b);
  return new Uint8Array(out);
}

/** A 64-bit ELF with one PT_NOTE segment holding a note named `name` of type `type`. */
function elfWithNote(name: string, type: number): Uint8Array {
  const elf = new Uint8Array(256);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setBigUint64(0x20, 64n, true); // e_phoff
  v.setUint16(0x36, 56, true); // e_phentsize
  v.setUint16(0x38, 1, true); // e_phnum
  v.setUint32(64, 4, true); // PT_NOTE
  v.setBigUint64(64 + 8, 128n, true); // p_offset
  v.setBigUint64(64 + 32, 24n, true); // p_filesz
  v.setUint32(128, name.length + 1, true);
  v.setUint32(132, 8, true);
  v.setUint32(136, type, true);
  elf.set(new TextEncoder().encode(name), 140);
  return elf;
}

/** A bzImage as the boot protocol lays it out: setup sectors, then the payload and its size. */
function bzImage(kernel: Uint8Array, frame = legacyFrame([storedBlock(kernel)])): Uint8Array {
  const setupSectors = 1;
  const pmStart = (setupSectors + 1) * 512;
  const payload = [...frame, ...le32(kernel.length)];
  const image = new Uint8Array(pmStart + 16 + payload.length);
  const v = new DataView(image.buffer);
  image[0x1f1] = setupSectors;
  image.set(new TextEncoder().encode("HdrS"), 0x202);
  v.setUint16(0x206, 0x20f, true);
  v.setUint32(0x248, 16, true);
  v.setUint32(0x24c, payload.length, true);
  image.set(payload, pmStart + 16);
  return image;
}

describe("LZ4 legacy frames", () => {
  test("a frame of the lz4 tool decodes to its input, an overlapping match included", () => {
    expect(new TextDecoder().decode(decodeLz4Legacy(FRAME, TEXT.length))).toBe(TEXT);
  });
  test("blocks stand on their own and follow one another; a trailing size is not a block", () => {
    const a = new TextEncoder().encode("first block ".repeat(30));
    const b = new TextEncoder().encode("second");
    const frame = [...legacyFrame([storedBlock(a), storedBlock(b)]), ...le32(a.length + b.length)];
    const out = decodeLz4Legacy(new Uint8Array(frame), a.length + b.length);
    expect(new TextDecoder().decode(out)).toBe("first block ".repeat(30) + "second");
  });
  test("a frame that cannot be decoded is an error that says why", () => {
    expect(() => decodeLz4Legacy(new Uint8Array([1, 2, 3, 4]), 4)).toThrow("no legacy frame magic");
    expect(() => decodeLz4Legacy(FRAME, TEXT.length + 1)).toThrow("expected");
    const broken = FRAME.slice();
    broken[15] = 0xff; // the first match's offset, far behind the block's start
    broken[16] = 0xff;
    expect(() => decodeLz4Legacy(broken, TEXT.length)).toThrow("lz4: bad match");
  });
});

describe("the kernel ELF out of a bzImage", () => {
  test("an ELF with the PVH entry note comes out whole", () => {
    const elf = elfWithNote("Xen", 18);
    expect(hasPvhEntry(elf)).toBe(true);
    const r = extractPvhKernel(bzImage(elf));
    expect(r.ok && Buffer.from(r.elf).equals(Buffer.from(elf))).toBe(true);
  });
  test("without that note, or not LZ4, or not a bzImage: the reason, and the bzImage is booted", () => {
    expect(extractPvhKernel(bzImage(elfWithNote("Xen", 17)))).toEqual({
      ok: false,
      reason: "no PVH entry note (CONFIG_PVH)",
    });
    expect(extractPvhKernel(bzImage(elfWithNote("Linux", 18))).ok).toBe(false);
    const gzip = bzImage(elfWithNote("Xen", 18), new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    expect(extractPvhKernel(gzip)).toEqual({ ok: false, reason: "kernel not compressed with LZ4" });
    expect(extractPvhKernel(new Uint8Array(4096))).toEqual({
      ok: false,
      reason: "not a bzImage (no HdrS setup header)",
    });
  });
});
