/**
 * Host mode's transport: a Unix stream socket in place of the virtio port. One host is served
 * at a time; a client that connects while another is served waits (its bytes unread) until the
 * first goes away, like a second opener of the port would.
 */
import { nodeFs } from "../lazy-node.ts";
import type { Socket } from "bun";
import type { Agent } from "./agent.ts";
import type { Connection } from "./connection.ts";
import type { Link } from "./link.ts";
import { log } from "./log.ts";

interface SocketData {
  conn: Connection | null;
}

function socketLink(socket: Socket<SocketData>): Link {
  return {
    write: (bytes) => Math.max(0, socket.write(bytes)),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close: () => socket.end(),
  };
}

export function serveSocket(path: string, agent: Agent): { stop(): void } {
  try {
    nodeFs().unlinkSync(path);
  } catch {
    // No stale socket to remove.
  }
  const waiting: Socket<SocketData>[] = [];

  const admit = (socket: Socket<SocketData>) => {
    socket.data.conn = agent.connect(socketLink(socket));
    socket.resume();
  };

  const server = Bun.listen<SocketData>({
    unix: path,
    socket: {
      open(socket) {
        socket.data = { conn: null };
        if (agent.busy) {
          socket.pause();
          waiting.push(socket);
          log("info", "a second host connected; it waits until the current one leaves");
        } else admit(socket);
      },
      data(socket, chunk) {
        socket.data.conn?.receive(chunk);
      },
      drain(socket) {
        socket.data.conn?.drained();
      },
      close(socket) {
        const i = waiting.indexOf(socket);
        if (i >= 0) waiting.splice(i, 1);
        const conn = socket.data.conn;
        if (!conn) return;
        socket.data.conn = null;
        agent.disconnect(conn);
        const next = waiting.shift();
        if (next) admit(next);
      },
      error(_socket, error) {
        log("warn", `socket error: ${error.message}`);
      },
    },
  });
  return { stop: () => server.stop(true) };
}
