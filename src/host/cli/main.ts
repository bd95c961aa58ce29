/**
 * agentctl: the command-line client of agentd. Global option `--socket PATH` (or the
 * AGENTCTL_SOCKET variable) names the agent's socket. Exit codes: the command's own for exec,
 * 0 on success, 1 when the guest refused an operation, 2 for usage errors, 3 when the agent
 * could not be reached.
 */
import { AgentdError, ErrorCodes } from "../../errors.ts";
import { AgentClient } from "../client.ts";
import { EXEC_HELP, execCommand } from "./commands/exec.ts";
import { FS_HELP, fsCommand } from "./commands/fs.ts";
import { IMAGE_HELP, imageCommand, VM_HELP, vmCommand } from "./commands/vm.ts";
import { usageError } from "./options.ts";

export const HELP = `usage: agentctl [--socket PATH] COMMAND [ARGS...]
Drives agentd over its socket (host mode, or a VM's agent.sock).

commands:
  exec [options] -- CMD [ARGS...]   run a command (see 'agentctl exec --help')
  cp, ls, stat, mkdir, rm, rmdir, mv   files in the guest (see 'agentctl cp --help')
  shutdown                          power the guest off (host mode: agentd exits)
  image build [--out DIR]           build the guest kernel + initramfs (see 'agentctl image --help')
  vm start|stop|run                 boot a guest in QEMU (see 'agentctl vm --help')

options:
  --socket PATH   the agent's socket (default: $AGENTCTL_SOCKET)
  -h, --help      this help

example: agentctl --socket /tmp/vm/agent.sock exec -- uname -a`;

const FS_COMMANDS = new Set(["cp", "ls", "stat", "mkdir", "rm", "rmdir", "mv"]);

function exitCodeOf(e: unknown): number {
  if (e instanceof AgentdError) {
    if (e.code === ErrorCodes.USAGE) return 2;
    if (e.code === ErrorCodes.CONNECTION) return 3;
  }
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  let socket = process.env["AGENTCTL_SOCKET"] ?? null;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--socket") socket = argv[++i] ?? null;
    else if (a.startsWith("--socket=")) socket = a.slice(9);
    else break;
  }
  const [command, ...rest] = argv.slice(i);
  try {
    if (!command || command === "--help" || command === "-h" || command === "help") {
      process.stdout.write(HELP + "\n");
      return command ? 0 : 2;
    }
    const wantsHelp = rest[0] === "--help" || rest[0] === "-h";
    if (command === "exec" && wantsHelp) return (void process.stdout.write(EXEC_HELP + "\n"), 0);
    if (FS_COMMANDS.has(command) && wantsHelp) return (void process.stdout.write(FS_HELP + "\n"), 0);
    if (command === "shutdown" && wantsHelp) {
      process.stdout.write(
        "usage: agentctl [--socket PATH] shutdown\nPowers the guest off (host mode: agentd exits).\n",
      );
      return 0;
    }
    if (command === "image") {
      if (wantsHelp || rest.length === 0) return (void process.stdout.write(IMAGE_HELP + "\n"), 0);
      return await imageCommand(rest);
    }
    if (command === "vm") {
      if (wantsHelp || rest.length === 0) return (void process.stdout.write(VM_HELP + "\n"), 0);
      return await vmCommand(rest);
    }
    if (command !== "exec" && command !== "shutdown" && !FS_COMMANDS.has(command)) {
      throw usageError(`unknown command '${command}'; run 'agentctl --help' for the list`);
    }
    if (!socket) throw usageError("no agent socket: pass --socket PATH or set AGENTCTL_SOCKET");
    const client = await AgentClient.connect(socket);
    try {
      if (command === "exec") return await execCommand(client, rest);
      if (command === "shutdown") {
        await client.shutdown();
        await Promise.race([client.closed(), Bun.sleep(5000)]);
        return 0;
      }
      return await fsCommand(client, command, rest);
    } finally {
      client.close();
    }
  } catch (e) {
    process.stderr.write(`agentctl: ${e instanceof Error ? e.message : String(e)}\n`);
    return exitCodeOf(e);
  }
}

if (import.meta.main) void main(process.argv.slice(2)).then((code) => process.exit(code));
