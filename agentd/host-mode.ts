/**
 * Host mode: serve on a Unix socket with no guest setup. Used by development, the host test
 * tier and benchmarks; behaves like the guest agent on the wire, and exits 0 on core.shutdown.
 */
import { Agent } from "../src/agent/agent.ts";
import type { AgentConfig } from "../src/agent/config.ts";
import { startHeartbeat } from "../src/agent/heartbeat.ts";
import { log } from "../src/agent/log.ts";
import { serveSocket } from "../src/agent/socket-server.ts";

export function runHostMode(socketPath: string, runtimeDir: string | null, config: AgentConfig): Agent {
  let stopHeartbeat = () => {};
  let server: { stop(): void } | null = null;
  const agent = new Agent(config, () => {
    stopHeartbeat();
    server?.stop();
    log("info", "shut down");
    process.exit(0);
  });
  server = serveSocket(socketPath, agent);
  if (runtimeDir) stopHeartbeat = startHeartbeat(runtimeDir, agent);
  log("info", `serving on ${socketPath}`);
  return agent;
}
