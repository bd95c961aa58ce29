/**
 * A link is one live host connection as the agent sees it: a byte sink with flow control on
 * the reading side. The Unix socket (host mode) and the virtio port (guest) each provide one.
 */
import type { ByteSink } from "./output-queue.ts";
import type { PortCopier } from "./port/copier.ts";

export interface Link extends ByteSink {
  /** The virtio port's: children's output is copied to it by the port thread (copy-loop.ts). */
  readonly copier?: PortCopier;
  /** Stop delivering received bytes until resume(). */
  pause(): void;
  resume(): void;
  /** Drop the connection. */
  close(): void;
}
