/**
 * What agentd loads before core.ready, the guest pays at every boot: under TCG, loading
 * node:crypto (for one randomBytes) cost a fifth of agentd's module loading. agentd's code
 * imports neither it nor node:stream; log lines go out whole and in order, even right before the
 * process exits.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const HEAVY = ["crypto", "stream", "node:crypto", "node:stream"];

test("agentd and its port thread import neither node:crypto nor node:stream", async () => {
  const built = await Bun.build({
    entrypoints: [join(ROOT, "agentd/main.ts"), join(ROOT, "src/agent/port/reader-worker.ts")],
    target: "bun",
  });
  expect(built.success).toBe(true);
  expect(built.outputs).toHaveLength(2);
  for (const out of built.outputs) {
    const code = await out.text();
    const imported = [...code.matchAll(/(?:\bfrom|\brequire\()\s*"([^"]+)"/g)].map((m) => m[1]!);
    // The bundle's own imports are the runtime's modules: fs, path, os, bun:ffi...
    expect(imported).toContain("bun:ffi");
    expect(imported.filter((m) => HEAVY.includes(m))).toEqual([]);
  }
});

/**
 * A compiled agentd is a CommonJS bundle (bytecode needs it): each static import of a runtime
 * module becomes a require at the top of the bundle, run before agentd's first line. Bun compiles
 * node:fs, node:fs/promises, node:os and node:path on their first require, which under TCG held
 * agentd's first line back by 50-60 ms; agentd's start uses src/sys/files.ts and requires these
 * only on first use (src/lazy-node.ts). bun:ffi is the one runtime module it loads at the top.
 */
/**
 * The same holds for the benchmark's ready floor (bench/ready-floor/main.ts), the least a Bun agent
 * of agentd's design does before core.ready: a floor that loaded more than agentd would be no floor.
 */
test.each([["agentd/main.ts"], ["bench/ready-floor/main.ts"]])(
  "%s and its port thread require no runtime module but bun:ffi before their first line",
  async (entry) => {
    const built = await Bun.build({
      entrypoints: [join(ROOT, entry), join(ROOT, "src/agent/port/reader-worker.ts")],
      target: "bun",
      format: "cjs",
    });
    expect(built.success).toBe(true);
    for (const out of built.outputs) {
      const code = await out.text();
      const topLevel = [...code.matchAll(/^var \w+ = require\("([^"]+)"\);$/gm)].map((m) => m[1]!);
      expect([...new Set(topLevel)]).toEqual(["bun:ffi"]);
      const lazy = [...code.matchAll(/\?\?= require\("([^"]+)"\)/g)].map((m) => m[1]!).sort();
      // The main thread's bundle has the lazy accessors (the floor only fs's); the port thread none.
      for (const m of lazy) expect(["fs", "fs/promises", "os", "path"]).toContain(m);
      if (entry === "agentd/main.ts" && lazy.length > 0)
        expect(lazy).toEqual(["fs", "fs/promises", "os", "path"]);
      const anyRequire = [...code.matchAll(/\brequire\("([^"]+)"\)/g)].length;
      expect(anyRequire).toBe(topLevel.length + lazy.length);
    }
  },
);

test("a log line written right before exit reaches stderr whole", () => {
  const script = `import { log } from ${JSON.stringify(join(ROOT, "src/agent/log.ts"))};
for (let i = 0; i < 200; i++) log("warn", "line " + i + " " + "x".repeat(100));
process.exit(3);`;
  const r = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe" });
  expect(r.exitCode).toBe(3);
  const lines = r.stderr.toString().trimEnd().split("\n");
  expect(lines).toHaveLength(200);
  expect(lines[199]).toBe(`agentd: warn: line 199 ${"x".repeat(100)}`);
});

/**
 * Some of JavaScript's and Bun's builtins are themselves JavaScript, compiled on their first
 * call, which under TCG is slow: cold in the guest, Uint8Array.from's first call took 41-43 ms,
 * Buffer.from's 15-21, Array.from's 5-18, against ~1 ms for `new Uint8Array([...])` and
 * TextEncoder (src/sys/cstr.ts). The code agentd runs on its way to core.ready (its entry, the
 * system calls, setup, the protocol's codec, the port and the agent's core) uses neither.
 */
test("the code on the way to core.ready makes no typed array or C string with from() or of()", async () => {
  const dirs = [
    "agentd",
    "src/sys",
    "src/setup",
    "src/setup/steps",
    "src/protocol",
    "src/agent/port",
    "src/agent",
  ];
  const offenders: string[] = [];
  for (const dir of dirs) {
    for (const file of new Bun.Glob("*.ts").scanSync(join(ROOT, dir))) {
      const lines = (await Bun.file(join(ROOT, dir, file)).text()).split("\n");
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, "").replace(/^\s*\*.*$/, "");
        if (
          /\b(?:Buffer|Array|(?:Ui|I)nt(?:8|16|32)Array|BigU?Int64Array|Float(?:32|64)Array)\.(?:from|of)\(/.test(
            code,
          )
        )
          offenders.push(`${dir}/${file}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  expect(offenders).toEqual([]);
});
