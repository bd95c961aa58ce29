/**
 * agentd's command line. With no arguments it is the guest agent (setup, then the virtio port);
 * `--socket PATH` is host mode for development and tests: no guest setup, a Unix socket instead
 * of the port.
 */
import { agentdError, err, ErrorCodes, ok, type Result } from "../src/errors.ts";

export interface AgentdArgs {
  socket: string | null;
  runtimeDir: string | null;
  execHelper: string | null;
  /** Run guest setup (phase 1) and exit: for tests of setup steps in namespaces. */
  setupOnly: boolean;
  /** With setupOnly: only these step ids. */
  steps: string[] | null;
  help: boolean;
}

export const USAGE = `usage: agentd [--socket PATH --runtime-dir DIR] [--exec-helper PATH]
  (no options)        guest mode: set the guest up from MSB_* variables, serve the port 'agent'
  --socket PATH       host mode: serve one host at a time on a Unix stream socket, no setup
  --runtime-dir DIR   where the heartbeat is written (guest mode: /.msb)
  --exec-helper PATH  the agentd-exec helper (default: beside the agentd binary)
  --setup-only [--steps ID,...]  run guest setup (or only the given steps) and exit`;

export function parseArgs(argv: readonly string[]): Result<AgentdArgs> {
  const out: AgentdArgs = {
    socket: null,
    runtimeDir: null,
    execHelper: null,
    setupOnly: false,
    steps: null,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw agentdError(ErrorCodes.USAGE, `${a} needs a value`);
      return v;
    };
    try {
      if (a === "--socket") out.socket = value();
      else if (a === "--runtime-dir") out.runtimeDir = value();
      else if (a === "--exec-helper") out.execHelper = value();
      else if (a === "--setup-only") out.setupOnly = true;
      else if (a === "--steps") out.steps = value().split(",").filter(Boolean);
      else if (a === "--help" || a === "-h") out.help = true;
      else return err(agentdError(ErrorCodes.USAGE, `unknown argument '${a}'`));
    } catch (e) {
      return err(e as ReturnType<typeof agentdError>);
    }
  }
  return ok(out);
}
