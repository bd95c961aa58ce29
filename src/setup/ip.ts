/** Pure IPv4 and IPv6 text parsers, giving network-order bytes (null when not an address). */

export function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255 || (p.length > 1 && p.startsWith("0"))) return null;
    out[i] = Number(p);
  }
  return out;
}

export function parseIpv6(s: string): Uint8Array | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || s.length > 45) return null;
  let head = s;
  let tail4: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    tail4 = parseIpv4(s.slice(lastColon + 1));
    if (!tail4) return null;
    head = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const group = (g: string) => (g === "" ? [] : g.split(":"));
  const left = group(halves[0]!);
  const right = halves.length === 2 ? group(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...new Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}
