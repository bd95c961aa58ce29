/**
 * The message table: every message type of protocol v1 with its wire name and the frame flags it
 * must carry. One table maps wire name ⇄ flags; the relay on the host routes on these bits.
 */
import { FLAG_SESSION_START, FLAG_SHUTDOWN, FLAG_TERMINAL } from "./constants.ts";

export const MessageType = {
  Ready: "core.ready",
  Shutdown: "core.shutdown",
  ExecRequest: "core.exec.request",
  ExecStarted: "core.exec.started",
  ExecStdin: "core.exec.stdin",
  ExecStdout: "core.exec.stdout",
  ExecStderr: "core.exec.stderr",
  ExecExited: "core.exec.exited",
  ExecResize: "core.exec.resize",
  ExecSignal: "core.exec.signal",
  FsRequest: "core.fs.request",
  FsResponse: "core.fs.response",
  FsData: "core.fs.data",
} as const;

export type MessageTypeName = (typeof MessageType)[keyof typeof MessageType];

/** Who sends a type: the guest (agentd), the host, or both. */
export type Direction = "guest" | "host" | "both";

export interface MessageSpec {
  readonly flags: number;
  readonly from: Direction;
}

export const MESSAGE_SPECS: Readonly<Record<MessageTypeName, MessageSpec>> = {
  "core.ready": { flags: 0, from: "guest" },
  "core.shutdown": { flags: FLAG_SHUTDOWN, from: "host" },
  "core.exec.request": { flags: FLAG_SESSION_START, from: "host" },
  "core.exec.started": { flags: 0, from: "guest" },
  "core.exec.stdin": { flags: 0, from: "host" },
  "core.exec.stdout": { flags: 0, from: "guest" },
  "core.exec.stderr": { flags: 0, from: "guest" },
  "core.exec.exited": { flags: FLAG_TERMINAL, from: "guest" },
  "core.exec.resize": { flags: 0, from: "host" },
  "core.exec.signal": { flags: 0, from: "host" },
  "core.fs.request": { flags: FLAG_SESSION_START, from: "host" },
  "core.fs.response": { flags: FLAG_TERMINAL, from: "guest" },
  "core.fs.data": { flags: 0, from: "both" },
};

export function isMessageType(t: string): t is MessageTypeName {
  return Object.hasOwn(MESSAGE_SPECS, t);
}

/** The flags a frame of type `t` must carry. */
export function flagsFor(t: MessageTypeName): number {
  return MESSAGE_SPECS[t].flags;
}
