/**
 * The heartbeat file the host's idle timeout reads (PROTOCOL.md §9): every second, while the
 * runtime directory exists, `heartbeat.tmp` is written and renamed to `heartbeat.json`, so the
 * host never reads a half-written file.
 *
 * The content is taken when the beat fires; the stat, write and rename run on the thread pool,
 * one beat at a time (a beat that finds the last one still writing is skipped). In the guest the
 * directory is a virtiofs share: done synchronously, a share whose daemon stopped answering
 * stopped agentd with it (test/host/lifecycle.test.ts blocks the write on a FIFO), and each
 * beat's FUSE round trips held the event loop (7% of the samples of a CPU profile taken in the
 * guest during stdout transfers; A/B runs showed no throughput change beyond the noise).
 */
import { nodeFsPromises, nodePath } from "../lazy-node.ts";
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

/** Writes one beat's `json`; resolves when done or failed (a failure is logged, never thrown). */
export async function writeHeartbeat(dir: string, json: string): Promise<void> {
  try {
    if (!(await nodeFsPromises().stat(dir)).isDirectory()) return;
  } catch {
    return;
  }
  const tmp = nodePath().join(dir, "heartbeat.tmp");
  try {
    await nodeFsPromises().writeFile(tmp, json);
    await nodeFsPromises().rename(tmp, nodePath().join(dir, "heartbeat.json"));
  } catch (e) {
    log("warn", `heartbeat: ${(e as Error).message}`);
  }
}

/** Starts the beat; returns a function that stops it. */
export function startHeartbeat(dir: string, state: HeartbeatState): () => void {
  let writing = false;
  const beat = () => {
    if (writing) return;
    writing = true;
    void writeHeartbeat(dir, heartbeatJson(new Date(), state)).finally(() => (writing = false));
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  return () => clearInterval(timer);
}
