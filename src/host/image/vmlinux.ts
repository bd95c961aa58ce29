/**
 * The kernel ELF inside a bzImage, for QEMU to start at its PVH entry. Booted as a bzImage, the
 * kernel first runs its own decompressor and relocator under the firmware, which under TCG took
 * ~0.18 s of every boot (QEMU's start to the kernel's clock: 0.22-0.24 s with the ELF against
 * 0.40-0.65 s with the bzImage, three boots each, alternating). Pure functions over the bytes:
 * the bzImage's setup header locates the compressed kernel (Linux's boot protocol, version 2.08
 * on), LZ4 is decoded here (lz4.ts; Debian's kernels use it), and the ELF must carry the PVH
 * entry note (XEN_ELFNOTE_PHYS32_ENTRY, CONFIG_PVH), else QEMU could not start it that way.
 * Started so, the kernel runs at the address it was linked for: the decompressor is also what
 * places it at a random one (KASLR), so the guest kernel has none, as with Firecracker's direct
 * start of an uncompressed kernel. The sandbox's boundary is the VM.
 */
import { decodeLz4Legacy, LZ4_LEGACY_MAGIC } from "./lz4.ts";

/** The ELF note that holds the kernel's 32-bit PVH entry point. */
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const PT_NOTE = 4;

export type Extracted = { ok: true; elf: Uint8Array } | { ok: false; reason: string };

/** Little-endian fields of `b` (the boot protocol's and ELF64's); 64-bit ones are offsets and sizes. */
function fields(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    u16: (at: number) => v.getUint16(at, true),
    u32: (at: number) => v.getUint32(at, true),
    u64: (at: number) => Number(v.getBigUint64(at, true)),
  };
}

/** The kernel ELF of `bzImage` when it can be started at its PVH entry; else why not. */
export function extractPvhKernel(bzImage: Uint8Array): Extracted {
  if (bzImage.length < 0x250 || String.fromCharCode(...bzImage.subarray(0x202, 0x206)) !== "HdrS")
    return { ok: false, reason: "not a bzImage (no HdrS setup header)" };
  const { u16, u32 } = fields(bzImage);
  const version = u16(0x206);
  if (version < 0x208) return { ok: false, reason: `boot protocol ${version.toString(16)} names no payload` };
  const setupSectors = bzImage[0x1f1]! || 4;
  const start = (setupSectors + 1) * 512 + u32(0x248);
  const length = u32(0x24c);
  if (length < 8 || start + length > bzImage.length) return { ok: false, reason: "payload out of the file" };
  const payload = bzImage.subarray(start, start + length);
  if (u32(start) !== LZ4_LEGACY_MAGIC) return { ok: false, reason: "kernel not compressed with LZ4" };
  // The kernel build appends the decompressed size to the compressed kernel.
  const size = u32(start + length - 4);
  let elf: Uint8Array;
  try {
    elf = decodeLz4Legacy(payload.subarray(0, length - 4), size);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (!hasPvhEntry(elf)) return { ok: false, reason: "no PVH entry note (CONFIG_PVH)" };
  return { ok: true, elf };
}

/** Whether a 64-bit ELF has the note that gives its PVH entry. */
export function hasPvhEntry(elf: Uint8Array): boolean {
  if (elf.length < 64) return false;
  const { u16, u32, u64 } = fields(elf);
  if (u32(0) !== 0x464c457f || elf[4] !== 2) return false;
  const phoff = u64(0x20);
  const phentsize = u16(0x36);
  const phnum = u16(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length || u32(ph) !== PT_NOTE) continue;
    const from = u64(ph + 8);
    const to = Math.min(elf.length, from + u64(ph + 32));
    for (let at = from; at + 12 <= to;) {
      const nameSize = u32(at);
      const descSize = u32(at + 4);
      const type = u32(at + 8);
      const name = String.fromCharCode(...elf.subarray(at + 12, at + 12 + Math.max(0, nameSize - 1)));
      if (name === "Xen" && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      at += 12 + align4(nameSize) + align4(descSize);
    }
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;
