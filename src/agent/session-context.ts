/**
 * What a session handler may use of its connection: send frames, wait for room in the output
 * queue, account held input, log. Handlers depend on this, not on the connection class.
 */
import type { DataMessageType } from "../protocol/frame.ts";
import type { Message } from "../protocol/payloads.ts";
import type { AgentConfig } from "./config.ts";
import type { InboundBudget } from "./inbound-budget.ts";
import type { OutputQueue } from "./output-queue.ts";
import type { PortCopier } from "./port/copier.ts";

export interface SessionContext {
  readonly config: AgentConfig;
  readonly queue: OutputQueue;
  readonly budget: InboundBudget;
  /** Copies output pipes to the host off the main thread (the virtio port only); else null. */
  readonly copier: PortCopier | null;
  /**
   * Sends a frame; `bulk` puts it in the output queue's bulk lane (pipe output, fs.data). False,
   * with nothing sent, when the message would be a frame over MAX_FRAME_SIZE (the host would
   * refuse it): the caller answers otherwise.
   */
  send(id: number, message: Message, bulk?: boolean): boolean;
  /**
   * Sends a `{data}` frame without copying `data`, which must stay unchanged until `done` is
   * called (when written, or when the connection is gone).
   */
  sendData(
    id: number,
    type: DataMessageType,
    data: Uint8Array,
    bulk: boolean,
    done: (() => void) | null,
  ): void;
  log(message: string): void;
}
