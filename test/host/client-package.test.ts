/**
 * The client library as a package: `npm pack` gives a tarball with an exports map, its types and
 * README; installed into a fresh project, the README's five-line program runs under Node and
 * under Bun against a real agentd, and a TypeScript program type-checks against its .d.ts.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startAgent, type HostAgent } from "./harness.ts";

const PKG = join(ROOT, "packages/client");
let agent: HostAgent;
let work: string;

function run(cmd: string[], cwd: string): string {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${p.exitCode}):\n${p.stdout}\n${p.stderr}`);
  return p.stdout.toString();
}

/** The first ```js block after `heading` in a README. */
function snippet(readme: string, heading: string): string {
  const at = readme.indexOf(heading);
  expect(at).toBeGreaterThanOrEqual(0);
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  return m![1]!;
}

beforeAll(async () => {
  agent = await startAgent();
  work = mkdtempSync(join(tmpdir(), "agentd-client-pkg-"));
  run(["bash", "scripts/build-client.sh"], ROOT);
  run(["npm", "pack", "--pack-destination", work, "--silent"], PKG);
}, 120_000);
afterAll(async () => {
  await agent.stop();
  rmSync(work, { recursive: true, force: true });
});

test("npm pack: exports map, ESM bundle, declarations, README; nothing else", () => {
  const tarball = join(work, "agentd-client-0.1.0.tgz");
  const files = run(["tar", "tzf", tarball], work).trim().split("\n").sort();
  expect(files).toContain("package/package.json");
  expect(files).toContain("package/README.md");
  expect(files).toContain("package/dist/index.js");
  expect(files).toContain("package/dist/types/host/index.d.ts");
  expect(
    files.every(
      (f) => f === "package/package.json" || f === "package/README.md" || f.startsWith("package/dist/"),
    ),
  ).toBe(true);
  const manifest = JSON.parse(run(["tar", "xzOf", tarball, "package/package.json"], work));
  expect(manifest.exports["."]).toEqual({
    types: "./dist/types/host/index.d.ts",
    import: "./dist/index.js",
    default: "./dist/index.js",
  });
  // The declarations carry the JSDoc (with examples) of the sources.
  const dts = run(["tar", "xzOf", tarball, "package/dist/types/host/client.d.ts"], work);
  expect(dts).toContain("@example");
  expect(dts).not.toMatch(/from "\.[^"]*\.ts"/);
});

test("the README's five-line program runs under Node and Bun from the installed package", async () => {
  const app = join(work, "app");
  run(["mkdir", "-p", app], work);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module", private: true }));
  run(["npm", "install", "--no-audit", "--no-fund", "--offline", join(work, "agentd-client-0.1.0.tgz")], app);
  const program = snippet(readFileSync(join(PKG, "README.md"), "utf8"), "## Five lines");
  expect(program.trim().split("\n").length).toBe(5);
  // The project README shows the same program.
  expect(snippet(readFileSync(join(ROOT, "README.md"), "utf8"), "five-line program")).toBe(program);
  writeFileSync(join(app, "main.mjs"), program);
  const expected = run(["uname", "-a"], app).trim();
  expect(run(["node", "main.mjs", agent.socket], app).trim()).toBe(`0 ${expected}`);
  expect(run([process.execPath, "main.mjs", agent.socket], app).trim()).toBe(`0 ${expected}`);
}, 120_000);

test("a TypeScript program type-checks against the package's declarations (NodeNext)", () => {
  const app = join(work, "app");
  writeFileSync(
    join(app, "check.ts"),
    `import { AgentClient, RemoteFsError, ExecStartError, ErrorCodes, upload, type ExecResult } from "@agentd/client";
export async function f(socket: string): Promise<number> {
  const agent = await AgentClient.connect(socket);
  const h = agent.exec("cat", [], { tty: false, rows: 24 });
  const w = h.stdin.getWriter();
  await w.write("x");
  await w.close();
  for await (const o of h.output) o.data.byteLength satisfies number;
  const r: ExecResult = await h.collect();
  try { await agent.stat("/nope"); } catch (e) { if (e instanceof RemoteFsError && e.notFound) return r.code; }
  h.started.catch((e) => e instanceof ExecStartError && e.code === ErrorCodes.REMOTE);
  await upload(agent, ".", "/tmp/x", { onProgress: (p) => p.done });
  return (await h.exited).code;
}
`,
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        lib: ["ES2022", "DOM"],
        strict: true,
        noEmit: true,
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules/@types")],
      },
      files: ["check.ts"],
    }),
  );
  run([join(ROOT, "node_modules/.bin/tsc"), "-p", "."], app);
});
