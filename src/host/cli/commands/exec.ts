/**
 * `agentctl exec`: runs a command in the guest, streaming stdin, stdout and stderr, and exits
 * with the command's code (-1, a command that could not start or was killed, becomes 255).
 */
import type { Rlimit } from "../../../protocol/payloads.ts";
import type { AgentClient } from "../../client.ts";
import { parseOptions, one, usageError } from "../options.ts";

export const EXEC_HELP = `usage: agentctl [--socket PATH] exec [options] -- CMD [ARGS...]
Runs CMD in the guest and exits with its exit code (255 if it could not start or was killed).
  -t, --tty                 run in a pseudo-terminal (local terminal in raw mode)
  -u, --user USER           NAME, UID, NAME:GROUP or UID:GID (default: MSB_USER, else root)
  -e, --env K=V             set an environment variable (repeatable)
  -w, --cwd DIR             working directory in the guest
      --rlimit NAME=SOFT:HARD  set a resource limit (repeatable; 'unlimited' allowed)
example: agentctl --socket /tmp/vm/agent.sock exec -e GREETING=hi -- sh -c 'echo $GREETING'`;

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

function writeOut(stream: NodeJS.WriteStream, data: Uint8Array): Promise<void> {
  return stream.write(data) ? Promise.resolve() : new Promise((r) => stream.once("drain", () => r()));
}

export async function execCommand(client: AgentClient, argv: string[]): Promise<number> {
  const p = parseOptions(argv, {
    values: ["user", "cwd"],
    repeatable: ["env", "rlimit"],
    flags: ["tty"],
    aliases: { "-t": "--tty", "-u": "--user", "-e": "--env", "-w": "--cwd" },
    stopAtPositional: true,
  });
  const [cmd, ...args] = p.positional;
  if (!cmd) throw usageError("exec needs a command: agentctl exec -- CMD [ARGS...]");
  const tty = p.flags.has("tty");
  const local = process.stdout;
  const handle = client.exec(cmd, args, {
    tty,
    user: one(p, "user"),
    cwd: one(p, "cwd"),
    env: p.values.get("env") ?? [],
    rlimits: (p.values.get("rlimit") ?? []).map(parseRlimit),
    rows: tty && local.isTTY ? local.rows : 24,
    cols: tty && local.isTTY ? local.columns : 80,
  });

  const stdin = process.stdin;
  const restore: (() => void)[] = [];
  if (tty && stdin.isTTY) {
    stdin.setRawMode(true);
    restore.push(() => stdin.setRawMode(false));
    const onResize = () => handle.resize(local.rows, local.columns);
    process.on("SIGWINCH", onResize);
    restore.push(() => process.off("SIGWINCH", onResize));
  }
  if (!stdin.isTTY || tty) {
    stdin.on("data", (chunk: Buffer) => {
      stdin.pause();
      handle.write(chunk).then(
        () => stdin.resume(),
        () => {},
      );
    });
    stdin.on("end", () => void handle.closeStdin().catch(() => {}));
  } else {
    void handle.closeStdin().catch(() => {});
  }

  try {
    for await (const o of handle.output)
      await writeOut(o.stream === "stdout" ? process.stdout : process.stderr, o.data);
    const exit = await handle.exited;
    return exit.code < 0 ? 255 : exit.code;
  } finally {
    for (const r of restore) r();
    stdin.pause();
    stdin.destroy();
  }
}
