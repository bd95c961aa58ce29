/**
 * agentd's client library: drive an agentd (host mode, or a microVM's agent socket) from Node
 * (≥ 20) or Bun. Everything a program needs is exported from here.
 *
 * @example
 * ```ts
 * import { AgentClient } from "@agentd/client";
 * const agent = await AgentClient.connect("/tmp/vm/agent.sock");
 * const { code, stdout } = await agent.exec("uname", ["-a"]).collect();
 * console.log(code, new TextDecoder().decode(stdout));
 * agent.close();
 * ```
 */
export { AgentClient, type ExecOptions } from "./client.ts";
export { ExecHandle, type ExecOutput, type ExecResult } from "./exec-handle.ts";
export { ConnectionError, ExecStartError, FrameTooLargeError, RemoteFsError } from "./errors.ts";
export { AgentdError, ErrorCodes, type ErrorCode } from "../errors.ts";
export { upload, download, type CopyOptions, type CopyProgress, type CopyStats } from "./tree-copy.ts";
export type { EntryInfo, ExecExited, Ready, Rlimit } from "../protocol/payloads.ts";
