/**
 * Kernel module dependencies without depmod: each .ko carries `name=` and `depends=` strings in
 * its .modinfo section. Pure functions: parse those, then order a wanted set so that every
 * module comes after the modules it depends on (what init needs to load them one by one).
 */

export interface ModuleInfo {
  name: string;
  depends: string[];
  /** Path relative to /lib/modules/<version>/. */
  path: string;
}

/** Reads `name=` and `depends=` from a module file's bytes. */
export function parseModinfo(bytes: Uint8Array, path: string): ModuleInfo {
  const text = Buffer.from(bytes).toString("latin1");
  const field = (key: string): string | null => {
    const at = text.indexOf(`\0${key}=`);
    if (at < 0) return null;
    const start = at + key.length + 2;
    return text.slice(start, text.indexOf("\0", start));
  };
  const base = path
    .split("/")
    .pop()!
    .replace(/\.ko(\.(xz|zst|gz))?$/, "");
  const depends = field("depends");
  return {
    name: field("name") ?? base.replace(/-/g, "_"),
    depends: depends ? depends.split(",").filter(Boolean) : [],
    path,
  };
}

/**
 * Orders the closure of `wanted` dependencies-first. A wanted module that is built into the
 * kernel is skipped; one that is neither a module nor built in is an error.
 */
export function loadOrder(
  wanted: readonly string[],
  modules: ReadonlyMap<string, ModuleInfo>,
  builtin: ReadonlySet<string>,
): ModuleInfo[] {
  const out: ModuleInfo[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, from: string) => {
    const key = name.replace(/-/g, "_");
    if (done.has(key) || builtin.has(key)) return;
    const info = modules.get(key);
    if (!info)
      throw new Error(`module '${name}' (needed by ${from}) is neither a module nor built into the kernel`);
    if (visiting.has(key)) throw new Error(`module dependency cycle at '${name}'`);
    visiting.add(key);
    for (const dep of info.depends) visit(dep, key);
    visiting.delete(key);
    done.add(key);
    out.push(info);
  };
  for (const w of wanted) visit(w, "the image");
  return out;
}

/** Module names of a modules.builtin file ("kernel/fs/ext4/ext4.ko" → "ext4"). */
export function parseBuiltin(text: string): Set<string> {
  return new Set(
    text
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("/").pop()!.replace(/\.ko$/, "").replace(/-/g, "_")),
  );
}
