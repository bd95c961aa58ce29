/**
 * agentd's entry. Records the start time first (core.ready reports it), installs the handlers
 * that keep a bug from ending the process, then runs host mode or the guest agent.
 */
const startedNs = process.hrtime.bigint();

import { dirname, join } from "node:path";
import type { AgentConfig } from "../src/agent/config.ts";
import { log } from "../src/agent/log.ts";
import { SCRIPTS_PATH, ENV_USER } from "../src/protocol/constants.ts";
import { parseArgs, USAGE } from "./args.ts";
import { runHostMode } from "./host-mode.ts";

process.on("uncaughtException", (e) => log("error", `uncaught: ${e?.stack ?? e}`));
process.on("unhandledRejection", (e) => log("error", `unhandled rejection: ${(e as Error)?.stack ?? e}`));

/** agentd's environment as children inherit it: without the MSB_* control variables. */
function childBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("MSB_")) env[k] = v;
  return env;
}

const args = parseArgs(process.argv.slice(2));
if (!args.ok) {
  process.stderr.write(`agentd: ${args.error.message}\n${USAGE}\n`);
  process.exit(2);
}
if (args.value.help) {
  process.stdout.write(USAGE + "\n");
  process.exit(0);
}

const { socket, runtimeDir, execHelper } = args.value;
const initDoneNs = process.hrtime.bigint();
const config: AgentConfig = {
  baseEnv: childBaseEnv(),
  execHelper: execHelper ?? join(dirname(process.execPath), "agentd-exec"),
  scriptsPath: SCRIPTS_PATH,
  passwdFile: "/etc/passwd",
  groupFile: "/etc/group",
  defaultUser: process.env[ENV_USER]?.trim() || null,
  ready: {
    boot_time_ns: startedNs,
    init_time_ns: initDoneNs - startedNs,
    ready_time_ns: process.hrtime.bigint(),
  },
  hostMode: socket !== null,
};

if (socket === null) {
  process.stderr.write(`agentd: guest mode is not available in this build; use --socket\n${USAGE}\n`);
  process.exit(2);
}
// Handlers first: a SIGTERM that arrives as soon as the socket exists must shut down cleanly.
let shutdown: () => void = () => process.exit(0);
process.on("SIGTERM", () => shutdown());
process.on("SIGINT", () => shutdown());
const agent = runHostMode(socket, runtimeDir, config);
shutdown = () => void agent.shutdown();
