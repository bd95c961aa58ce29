/**
 * `agentctl cp`: files and whole directories in either direction (a leading ':' marks the guest
 * side), modes kept, `-` for stdin or stdout, a progress line when stderr is a terminal.
 */
import { statSync } from "node:fs";
import { basename, join, posix } from "node:path";
import type { AgentClient } from "../../client.ts";
import { RemoteFsError } from "../../errors.ts";
import { download, upload, type CopyProgress, type CopyStats } from "../../tree-copy.ts";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { parseOptions, usageError } from "../options.ts";
import { ProgressLine } from "../progress.ts";

export const CP_HELP = `usage: agentctl [--socket PATH] cp [--json] [-q] SRC DST
Copies a file or a whole directory between the host and the guest; a leading ':' marks the guest
path. Files are written atomically and keep their mode; directories keep theirs and symlinks stay
symlinks (these two use the guest's chmod/ln/readlink). If DST is an existing directory (or ends
in '/'), SRC is copied into it. '-' as SRC reads stdin into a guest file; '-' as DST writes a guest
file to stdout. A progress line (bytes, rate, time left) is drawn when stderr is a terminal.
  --json        print {"files","dirs","symlinks","bytes","seconds","skipped"} when done
  -q, --quiet   no progress line
${EXIT_CODES_HELP}
examples:
  agentctl cp ./project :/work              upload a directory (to /work/project if /work exists)
  agentctl cp :/var/log ./guest-logs        download a directory
  agentctl cp :/etc/os-release -            print a guest file
  gzip -c big.img | agentctl cp - :/tmp/big.img.gz`;

const isGuest = (a: string) => a.startsWith(":");

async function guestIsDir(client: AgentClient, path: string): Promise<boolean> {
  try {
    const kind = (await client.stat(path)).kind;
    // A symlink to a directory is a directory here, as for cp: it lists.
    return kind === "dir" || (kind === "symlink" && (await client.list(path), true));
  } catch (e) {
    if (e instanceof RemoteFsError) return false;
    throw e;
  }
}

function localIsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function* stdinChunks(onBytes: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const c of process.stdin) {
    onBytes((c as Buffer).length);
    yield c as Buffer;
  }
}

async function toStdout(client: AgentClient, src: string, onBytes: (n: number) => void): Promise<void> {
  const e = await client.stat(src);
  if (e.kind === "dir")
    throw usageError(
      `:${src} is a directory; '-' takes one file (for a tree: agentctl exec -- tar c -C ${src} .)`,
    );
  for await (const c of client.read(src)) {
    onBytes(c.length);
    if (!process.stdout.write(c)) await new Promise((r) => process.stdout.once("drain", r));
  }
}

export async function cpCommand(client: AgentClient, argv: string[]): Promise<number> {
  const p = parseOptions(argv, { flags: ["json", "quiet"], aliases: { "-q": "--quiet" } });
  const [src, dst, extra] = p.positional;
  if (!src || !dst || extra !== undefined)
    throw usageError("cp takes a source and a destination: cp LOCAL :GUEST or cp :GUEST LOCAL");
  if (isGuest(src) === isGuest(dst))
    throw usageError("cp: exactly one side must be a guest path (prefix ':'), e.g. cp ./f :/tmp/f");

  const started = performance.now();
  const bar =
    process.stderr.isTTY && !p.flags.has("quiet") && !p.flags.has("json")
      ? new ProgressLine(process.stderr)
      : null;
  const onProgress = (pr: CopyProgress) => bar?.update(pr);
  let stats: CopyStats;
  // A stream ('-' on either side) has no size to show progress against: bytes and rate only.
  let streamed = 0;
  const onBytes = (n: number) => {
    streamed += n;
    onProgress({ done: streamed, total: null, filesDone: 0, filesTotal: 1 });
  };
  const oneStream = (): CopyStats => ({ files: 1, dirs: 0, symlinks: 0, bytes: streamed, skipped: [] });

  try {
    if (isGuest(src)) {
      const from = src.slice(1);
      if (dst === "-") {
        await toStdout(client, from, onBytes);
        stats = oneStream();
      } else {
        const to = dst.endsWith("/") || localIsDir(dst) ? join(dst, posix.basename(from)) : dst;
        stats = await download(client, from, to, { onProgress });
      }
    } else {
      let to = dst.slice(1);
      if (src === "-") {
        if (to.endsWith("/") || (await guestIsDir(client, to)))
          throw usageError(
            `:${to} is a directory; with '-' name the file to write, e.g. :${posix.join(to, "stdin.bin")}`,
          );
        await client.writeFile(to, stdinChunks(onBytes));
        stats = oneStream();
      } else {
        statSync(src); // a missing source fails here, with the local path in the message
        if (to.endsWith("/") || (await guestIsDir(client, to))) to = posix.join(to, basename(src));
        stats = await upload(client, src, to, { onProgress });
      }
    }
  } finally {
    bar?.finish();
  }
  for (const s of stats.skipped) process.stderr.write(`agentctl: skipped ${s}\n`);
  if (p.flags.has("json"))
    process.stdout.write(
      JSON.stringify({ ...stats, seconds: Number(((performance.now() - started) / 1000).toFixed(3)) }) + "\n",
    );
  return 0;
}
