/**
 * The heartbeat file the host's idle timeout reads (PROTOCOL.md §9): every second, while the
 * runtime directory exists, `heartbeat.tmp` is written and renamed to `heartbeat.json`, so the
 * host never reads a half-written file. Writes are synchronous and tiny, so the beat keeps its
 * cadence however busy the agent is with asynchronous work.
 */
import { renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { log } from "./log.ts";

export const HEARTBEAT_INTERVAL_MS = 1000;

export interface HeartbeatState {
  activeSessions(): number;
  lastActivity(): Date;
}

export function heartbeatJson(now: Date, state: HeartbeatState): string {
  return JSON.stringify(
    {
      timestamp: now.toISOString(),
      active_sessions: state.activeSessions(),
      last_activity: state.lastActivity().toISOString(),
    },
    null,
    2,
  );
}

export function writeHeartbeat(dir: string, state: HeartbeatState): void {
  try {
    if (!statSync(dir).isDirectory()) return;
  } catch {
    return;
  }
  const tmp = join(dir, "heartbeat.tmp");
  try {
    writeFileSync(tmp, heartbeatJson(new Date(), state));
    renameSync(tmp, join(dir, "heartbeat.json"));
  } catch (e) {
    log("warn", `heartbeat: ${(e as Error).message}`);
  }
}

/** Starts the beat; returns a function that stops it. */
export function startHeartbeat(dir: string, state: HeartbeatState): () => void {
  writeHeartbeat(dir, state);
  const timer = setInterval(() => writeHeartbeat(dir, state), HEARTBEAT_INTERVAL_MS);
  return () => clearInterval(timer);
}
