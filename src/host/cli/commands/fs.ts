/**
 * agentctl's file commands: cp (either direction, `:` marks the guest side), ls, stat, mkdir,
 * rm, rmdir, mv. Each prints what a script needs and fails with the guest's own reason.
 */
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { rename } from "node:fs/promises";
import type { EntryInfo } from "../../../protocol/payloads.ts";
import type { AgentClient } from "../../client.ts";
import { parseOptions, usageError } from "../options.ts";

export const FS_HELP = `file commands (a leading ':' marks a guest path):
  cp LOCAL :GUEST          upload a file (atomic; keeps the local file's mode)
  cp :GUEST LOCAL          download a file ('-' as LOCAL writes to stdout)
  ls [--json] :DIR         list a directory      stat [--json] :PATH   show one entry
  mkdir :DIR   rm :FILE   rmdir :DIR (recursive)   mv :SRC :DST
example: agentctl --socket /tmp/vm/agent.sock cp ./data.csv :/tmp/data.csv`;

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

async function* localChunks(path: string): AsyncIterable<Uint8Array> {
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield c as Buffer;
}

async function download(client: AgentClient, src: string, dst: string): Promise<void> {
  if (dst === "-") {
    for await (const c of client.read(src)) {
      if (!process.stdout.write(c)) await new Promise((r) => process.stdout.once("drain", r));
    }
    return;
  }
  // Write beside the target and rename, so a failed download leaves no half file behind.
  const temp = `${dst}.agentctl-partial`;
  const out = createWriteStream(temp);
  try {
    for await (const c of client.read(src)) {
      if (!out.write(c)) await new Promise((r) => out.once("drain", r));
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    await rename(temp, dst);
  } catch (e) {
    out.destroy();
    await import("node:fs/promises").then((f) => f.unlink(temp)).catch(() => {});
    throw e;
  }
}

export async function fsCommand(client: AgentClient, name: string, argv: string[]): Promise<number> {
  const p = parseOptions(argv, { flags: ["json"] });
  const [a, b] = p.positional;
  const asJson = p.flags.has("json");
  switch (name) {
    case "cp": {
      if (!a || !b)
        throw usageError("cp needs a source and a destination: cp LOCAL :GUEST or cp :GUEST LOCAL");
      if (a.startsWith(":") === b.startsWith(":"))
        throw usageError("cp: exactly one side must be a guest path (prefix ':')");
      if (a.startsWith(":")) await download(client, a.slice(1), b);
      else
        await client.writeFile(
          b.slice(1),
          a === "-" ? localChunks("/dev/stdin") : localChunks(a),
          a === "-" ? null : statSync(a).mode & 0o7777,
        );
      return 0;
    }
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
