/**
 * A link is one live host connection as the agent sees it: a byte sink with flow control on
 * the reading side. The Unix socket (host mode) and the virtio port (guest) each provide one.
 */
import type { ByteSink } from "./output-queue.ts";

export interface Link extends ByteSink {
  /** Stop delivering received bytes until resume(). */
  pause(): void;
  resume(): void;
  /** Drop the connection. */
  close(): void;
}
