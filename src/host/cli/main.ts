/**
 * agentctl: the command-line client of agentd. Global option `--socket PATH` (or the
 * AGENTCTL_SOCKET variable) names the agent's socket. Exit codes are in exit-codes.ts.
 */
import { AgentClient } from "../client.ts";
import { ExecStartError, RemoteFsError } from "../errors.ts";
import { CP_HELP, cpCommand } from "./commands/cp.ts";
import { EXEC_HELP, SHELL_HELP, execCommand, shellCommand } from "./commands/exec.ts";
import { FS_HELP, fsCommand } from "./commands/fs.ts";
import { IMAGE_HELP, imageCommand, VM_HELP, vmCommand } from "./commands/vm.ts";
import { EXIT_CODES_HELP, execErrorCode, exitCodeOf } from "./exit-codes.ts";
import { usageError } from "./options.ts";

export const HELP = `usage: agentctl [--socket PATH] [--timeout S] COMMAND [ARGS...]
Drives agentd over its socket (host mode, or a VM's agent.sock). 'agentctl COMMAND --help' for more.

commands:
  exec [options] -- CMD [ARGS...]   run a command, streaming stdin/stdout/stderr
  shell [options] [-- CMD...]       an interactive terminal in the guest
  cp SRC DST                        copy files or directories (':PATH' is a guest path)
  ls, stat, mkdir, rm, rmdir, mv    files in the guest
  shutdown                          power the guest off (host mode: agentd exits)
  image build|context               build the guest kernel + initramfs
  vm start|stop|run                 boot a guest in QEMU

options:
  --socket PATH   the agent's socket (default: $AGENTCTL_SOCKET)
  --timeout S     how long to wait for the agent's core.ready (default 10 seconds)
  -h, --help      this help

${EXIT_CODES_HELP}
examples:
  agentctl vm start --state /tmp/vm && export AGENTCTL_SOCKET=/tmp/vm/agent.sock
  agentctl exec -- uname -a
  agentctl shell
  agentctl cp ./project :/work`;

const SHUTDOWN_HELP = `usage: agentctl [--socket PATH] shutdown
Powers the guest off (host mode: agentd exits); returns once the agent has closed the connection.
example: agentctl --socket /tmp/vm/agent.sock shutdown`;

const FS_COMMANDS = new Set(["ls", "stat", "mkdir", "rm", "rmdir", "mv"]);
const EXEC_COMMANDS = new Set(["exec", "shell"]);
const AGENT_COMMANDS = new Set([...FS_COMMANDS, ...EXEC_COMMANDS, "cp", "shutdown"]);

const HELPS: Record<string, string> = {
  exec: EXEC_HELP,
  shell: SHELL_HELP,
  cp: CP_HELP,
  shutdown: SHUTDOWN_HELP,
  image: IMAGE_HELP,
  vm: VM_HELP,
  ...Object.fromEntries([...FS_COMMANDS].map((c) => [c, FS_HELP])),
};

/** The message for an error, with what to do next where we know it. */
export function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof RemoteFsError) {
    if (e.notFound)
      return `${message}\n  (the path does not exist in the guest; look with 'agentctl ls :DIR')`;
    if (/Permission denied|Operation not permitted/.test(e.remote))
      return `${message}\n  (the agent runs as root; check the path's mode, or whether it is on a read-only share)`;
    if (/Read-only file system/.test(e.remote))
      return `${message}\n  (that path is on a read-only mount, e.g. a share given with :ro)`;
  }
  if (e instanceof ExecStartError && e.notFound)
    return `${message}\n  (is it installed in the guest image and on PATH? 'agentctl exec -- sh -c "command -v NAME"')`;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" && (e as NodeJS.ErrnoException).path)
    return `${message}\n  (the local path does not exist)`;
  return message;
}

async function agentCommand(socket: string, timeoutS: number, command: string, rest: string[]) {
  const client = await AgentClient.connect(socket, timeoutS * 1000);
  try {
    if (command === "exec") return await execCommand(client, rest);
    if (command === "shell") return await shellCommand(client, rest);
    if (command === "cp") return await cpCommand(client, rest);
    if (command === "shutdown") {
      if (rest.length > 0) throw usageError(`shutdown takes no arguments, got '${rest[0]}'`);
      await client.shutdown();
      await Promise.race([client.closed(), new Promise((r) => setTimeout(r, 5000))]);
      return 0;
    }
    return await fsCommand(client, command, rest);
  } finally {
    client.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let socket = process.env["AGENTCTL_SOCKET"] || null;
  let timeout = "10";
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--socket") socket = argv[++i] ?? null;
    else if (a.startsWith("--socket=")) socket = a.slice(9);
    else if (a === "--timeout") timeout = argv[++i] ?? "";
    else if (a.startsWith("--timeout=")) timeout = a.slice(10);
    else break;
  }
  const [command, ...rest] = argv.slice(i);
  try {
    if (!command || command === "--help" || command === "-h" || command === "help") {
      (command ? process.stdout : process.stderr).write(HELP + "\n");
      return command ? 0 : 2;
    }
    const help = HELPS[command];
    if (help && (rest[0] === "--help" || rest[0] === "-h"))
      return (void process.stdout.write(help + "\n"), 0);
    if (command === "image") {
      if (rest.length === 0) return (void process.stdout.write(IMAGE_HELP + "\n"), 0);
      return await imageCommand(rest);
    }
    if (command === "vm") {
      if (rest.length === 0) return (void process.stdout.write(VM_HELP + "\n"), 0);
      return await vmCommand(rest);
    }
    if (!AGENT_COMMANDS.has(command))
      throw usageError(`unknown command '${command}'; run 'agentctl --help' for the list`);
    if (!socket)
      throw usageError(
        "no agent socket: pass --socket PATH or set AGENTCTL_SOCKET (a VM's is DIR/agent.sock after 'agentctl vm start --state DIR')",
      );
    const timeoutS = Number(timeout);
    if (!(timeoutS > 0)) throw usageError(`--timeout must be a positive number of seconds, got '${timeout}'`);
    return await agentCommand(socket, timeoutS, command, rest);
  } catch (e) {
    process.stderr.write(`agentctl: ${describeError(e)}\n`);
    const runsCommand = command && (EXEC_COMMANDS.has(command) || (command === "vm" && rest[0] === "run"));
    return runsCommand ? execErrorCode(e) : exitCodeOf(e);
  }
}

if (import.meta.main) void main(process.argv.slice(2)).then((code) => process.exit(code));
