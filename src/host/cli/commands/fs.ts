/**
 * agentctl's file commands besides cp: ls, stat, mkdir, rm, rmdir, mv (`:` marks a guest path,
 * and may be left out). Each prints what a script needs and fails with the guest's own reason.
 */
import type { EntryInfo } from "../../../protocol/payloads.ts";
import type { AgentClient } from "../../client.ts";
import { parseOptions, usageError } from "../options.ts";

export const FS_HELP = `usage: agentctl [--socket PATH] ls|stat|mkdir|rm|rmdir|mv [--json] :PATH...
Files in the guest (a leading ':' marks a guest path; here it may be left out):
  ls [--json] :DIR         list a directory (kind, mode, size, modified, path)
  stat [--json] :PATH      one entry (symlinks are not followed)
  mkdir :DIR               make a directory and its missing parents
  rm :FILE                 remove a file or symlink
  rmdir :DIR               remove a directory and everything in it
  mv :SRC :DST             rename (missing parents of DST are made)
--json prints the entries as JSON (ls: an array; stat: one object); the others print nothing.
For copies see 'agentctl cp --help'.
exit codes: 0 ok, 1 the guest refused the operation, 2 usage error, 3 agent unreachable
examples:
  agentctl --socket /tmp/vm/agent.sock ls :/etc
  agentctl stat --json :/etc/hostname | jq .size`;

function guestPath(arg: string | undefined, what: string): string {
  if (!arg) throw usageError(`missing ${what}`);
  return arg.startsWith(":") ? arg.slice(1) : arg;
}

function mode(n: number): string {
  return (n & 0o7777).toString(8).padStart(4, "0");
}

function line(e: EntryInfo): string {
  const when = e.modified === null ? "-" : new Date(e.modified * 1000).toISOString();
  return `${e.kind.padEnd(7)} ${mode(e.mode)} ${String(e.size).padStart(12)} ${when} ${e.path}`;
}

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
}

export async function fsCommand(client: AgentClient, name: string, argv: string[]): Promise<number> {
  const p = parseOptions(argv, { flags: ["json"] });
  const [a, b] = p.positional;
  const wanted = name === "mv" ? 2 : 1;
  if (p.positional.length > wanted)
    throw usageError(`${name} takes ${wanted === 2 ? "two paths" : "one path"}, got ${p.positional.length}`);
  const asJson = p.flags.has("json");
  switch (name) {
    case "ls": {
      const entries = await client.list(guestPath(a, "directory"));
      process.stdout.write(
        asJson ? json(entries) + "\n" : entries.map(line).join("\n") + (entries.length ? "\n" : ""),
      );
      return 0;
    }
    case "stat": {
      const e = await client.stat(guestPath(a, "path"));
      process.stdout.write((asJson ? json(e) : line(e)) + "\n");
      return 0;
    }
    case "mkdir":
      await client.mkdir(guestPath(a, "directory"));
      return 0;
    case "rm":
      await client.remove(guestPath(a, "file"));
      return 0;
    case "rmdir":
      await client.removeDir(guestPath(a, "directory"));
      return 0;
    case "mv":
      await client.rename(guestPath(a, "source"), guestPath(b, "destination"));
      return 0;
  }
  throw usageError(`unknown command '${name}'`);
}
