/**
 * The serving agent: one host connection at a time over whatever link the mode provides; a
 * connection that arrives while another is live waits its turn. Owns the heartbeat state and
 * the shutdown sequence (SIGTERM to every session, a short grace, SIGKILL, then the mode's end:
 * exit in host mode, power off in the guest).
 */
import type { AgentConfig } from "./config.ts";
import { Connection } from "./connection.ts";
import type { HeartbeatState } from "./heartbeat.ts";
import type { Link } from "./link.ts";
import { log } from "./log.ts";

/** Time sessions get between SIGTERM and SIGKILL on shutdown. */
export const SHUTDOWN_GRACE_MS = 500;

export class Agent implements HeartbeatState {
  #current: Connection | null = null;
  #lastActivity = new Date();
  #shuttingDown = false;

  constructor(
    readonly config: AgentConfig,
    /** Called once the sessions are gone; ends the process or powers the guest off. */
    readonly finish: () => Promise<void> | void,
  ) {}

  activeSessions(): number {
    return this.#current?.exec.size ?? 0;
  }

  lastActivity(): Date {
    return this.#lastActivity;
  }

  get busy(): boolean {
    return this.#current !== null && !this.#current.closed;
  }

  /** A host connected over `link`; returns the connection to feed with its bytes. */
  connect(link: Link): Connection {
    this.#current?.close();
    const conn = new Connection(link, this.config, {
      activity: () => (this.#lastActivity = new Date()),
      shutdown: () => void this.shutdown(),
    });
    this.#current = conn;
    log("info", "host connected");
    return conn;
  }

  /** The link of `conn` closed. */
  disconnect(conn: Connection): void {
    const sessions = conn.exec.size;
    conn.close();
    if (this.#current === conn) this.#current = null;
    log("info", `host disconnected; ended ${sessions} session(s)`);
  }

  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    log("info", "shutdown requested");
    const conn = this.#current;
    if (conn && conn.exec.size > 0) {
      conn.signalAll(15);
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (conn.exec.size > 0 && Date.now() < deadline) await Bun.sleep(10);
    }
    conn?.close();
    await this.finish();
  }
}
