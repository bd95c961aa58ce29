/**
 * Reads the golden vectors and the payloads INDEX.md lists for them. The INDEX table is the
 * authority: nothing here restates its values.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const VECTOR_DIR = join(import.meta.dir, "..", "fixtures", "vectors");

export interface Vector {
  file: string;
  type: string;
  id: number;
  flags: number;
  bytes: Uint8Array;
  /** The payload as INDEX.md lists it: byte strings as "h'..'", big integers as bigint. */
  payload: unknown;
}

function revive(v: unknown): unknown {
  if (typeof v === "string") {
    const big = /^big:(\d+)$/.exec(v);
    if (big) return BigInt(big[1]!);
    return v;
  }
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  return v;
}

export function loadVectors(): Vector[] {
  const index = readFileSync(join(VECTOR_DIR, "INDEX.md"), "utf8");
  const rows = index.split("\n").filter((l) => l.startsWith("| `"));
  return rows.map((row) => {
    const cells = row.split("|").map((c) => c.trim());
    const file = cells[1]!.replace(/`/g, "");
    const type = cells[2]!.replace(/`/g, "");
    const payloadText = cells[5]!.replace(/^`|`$/g, "");
    // Integers past 2^53 would lose precision in JSON.parse: carry them as strings.
    const payload =
      payloadText === "(empty)"
        ? null
        : revive(JSON.parse(payloadText.replace(/(?<![\w."])(\d{16,})/g, '"big:$1"')));
    const hex = readFileSync(join(VECTOR_DIR, file), "utf8").trim();
    return {
      file,
      type,
      id: Number(cells[3]),
      flags: Number(cells[4]),
      bytes: Uint8Array.from(Buffer.from(hex, "hex")),
      payload,
    };
  });
}

/** A comparable form: byte strings as "h'hex'", keys sorted, safe bigints as numbers. */
export function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `h'${Buffer.from(v).toString("hex")}'`;
  if (typeof v === "bigint") return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, normalize((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
