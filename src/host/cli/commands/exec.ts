/**
 * `agentctl exec` and `agentctl shell`: run a command in the guest, streaming stdin, stdout and
 * stderr (or, with --json, collecting them into one JSON object), and exit with the command's
 * code as a shell would (see exit-codes.ts).
 */
import type { Rlimit } from "../../../protocol/payloads.ts";
import type { AgentClient, ExecOptions } from "../../client.ts";
import type { ExecHandle } from "../../exec-handle.ts";
import { EXIT_CODES_HELP, execExitCode } from "../exit-codes.ts";
import { one, parseOptions, usageError, type Parsed } from "../options.ts";
import { attachLocal, localSize } from "../terminal.ts";

const COMMON_OPTIONS = `  -u, --user USER           NAME, UID, NAME:GROUP or UID:GID (default: MSB_USER, else root)
  -e, --env K=V             set an environment variable (repeatable)
  -w, --cwd DIR             working directory in the guest
      --rlimit NAME=SOFT:HARD  set a resource limit (repeatable; 'unlimited' allowed)`;

export const EXEC_HELP = `usage: agentctl [--socket PATH] exec [options] -- CMD [ARGS...]
Runs CMD in the guest: stdin, stdout and stderr stream both ways; exits with CMD's exit code.
  -t, --tty                 run in a pseudo-terminal (the local terminal goes raw; size follows it)
      --json                collect instead of streaming: print {"code","signal","stdout","stderr"}
${COMMON_OPTIONS}
${EXIT_CODES_HELP}
examples:
  agentctl --socket /tmp/vm/agent.sock exec -e GREETING=hi -- sh -c 'echo $GREETING'
  tar c src | agentctl exec -- tar x -C /tmp        agentctl exec --json -- cat /etc/hostname`;

export const SHELL_HELP = `usage: agentctl [--socket PATH] shell [options] [-- CMD [ARGS...]]
An interactive terminal in the guest (default CMD: /bin/sh -l). The local terminal is put in raw
mode (Ctrl-C, Ctrl-D and Ctrl-Z go to the guest), the guest's terminal size follows the local one,
and the local terminal is restored however the session ends. Exits with the shell's exit code.
${COMMON_OPTIONS}
${EXIT_CODES_HELP}
example: agentctl --socket /tmp/vm/agent.sock shell -u nobody`;

const U64_MAX = (1n << 64n) - 1n;

function parseLimit(v: string): bigint {
  if (v === "unlimited" || v === "infinity") return U64_MAX;
  if (!/^\d+$/.test(v)) throw usageError(`rlimit value '${v}' is not a number or 'unlimited'`);
  return BigInt(v);
}

export function parseRlimit(spec: string): Rlimit {
  const m = /^([a-z]+)=([^:]+):([^:]+)$/.exec(spec);
  if (!m) throw usageError(`--rlimit '${spec}': expected NAME=SOFT:HARD, e.g. nofile=1024:4096`);
  return { resource: m[1]!, soft: parseLimit(m[2]!), hard: parseLimit(m[3]!) };
}

const SPEC = {
  values: ["user", "cwd"],
  repeatable: ["env", "rlimit"],
  aliases: { "-t": "--tty", "-u": "--user", "-e": "--env", "-w": "--cwd" },
  stopAtPositional: true,
} as const;

function execOptions(p: Parsed, tty: boolean): ExecOptions {
  const env = p.values.get("env") ?? [];
  // A terminal program needs TERM to draw; pass the local one unless the user set it.
  if (tty && !env.some((e) => e.startsWith("TERM=")))
    env.unshift(`TERM=${process.env["TERM"] || "xterm-256color"}`);
  return {
    tty,
    user: one(p, "user"),
    cwd: one(p, "cwd"),
    env,
    rlimits: (p.values.get("rlimit") ?? []).map(parseRlimit),
    ...(tty ? localSize() : {}),
  };
}

function writeOut(stream: NodeJS.WriteStream, data: Uint8Array): Promise<void> {
  return stream.write(data) ? Promise.resolve() : new Promise((r) => stream.once("drain", () => r()));
}

/** Why the command could not start, or null if it started. */
const startError = (handle: ExecHandle): Promise<unknown> =>
  handle.started.then(
    () => null,
    (e: unknown) => e,
  );

/** Runs one session attached to the local stdio; returns agentctl's exit code. */
async function runAttached(client: AgentClient, cmd: string, args: string[], opts: ExecOptions) {
  const handle = client.exec(cmd, args, opts);
  const local = attachLocal(handle, opts.tty ?? false);
  try {
    for await (const o of handle.output)
      await writeOut(o.stream === "stdout" ? process.stdout : process.stderr, o.data);
    return execExitCode(await handle.exited, await startError(handle));
  } finally {
    local.restore();
  }
}

async function runJson(client: AgentClient, cmd: string, args: string[], opts: ExecOptions) {
  const handle = client.exec(cmd, args, opts);
  void handle.closeStdin().catch(() => {});
  const r = await handle.collect();
  const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");
  process.stdout.write(
    JSON.stringify({
      code: r.code,
      signal: r.signal ?? null,
      stdout: text(r.stdout),
      stderr: text(r.stderr),
    }) + "\n",
  );
  return execExitCode(r, await startError(handle));
}

export async function execCommand(client: AgentClient, argv: string[]): Promise<number> {
  const p = parseOptions(argv, { ...SPEC, flags: ["tty", "json"] });
  const [cmd, ...args] = p.positional;
  if (!cmd) throw usageError("exec needs a command: agentctl exec -- CMD [ARGS...]");
  const opts = execOptions(p, p.flags.has("tty"));
  return p.flags.has("json") ? runJson(client, cmd, args, opts) : runAttached(client, cmd, args, opts);
}

export async function shellCommand(client: AgentClient, argv: string[]): Promise<number> {
  const p = parseOptions(argv, { ...SPEC, flags: [] });
  const [cmd, ...args] = p.positional.length > 0 ? p.positional : ["/bin/sh", "-l"];
  return runAttached(client, cmd!, args, execOptions(p, true));
}
