/**
 * A descriptor for agentd's log lines that never blocks: stderr opened again through
 * /proc/self/fd/2 with O_NONBLOCK. Opening the magic link makes a new open file description for a
 * tty or a pipe, so O_NONBLOCK is agentd's alone: init and the processes that share fd 2's
 * description keep their blocking writes. (Setting O_NONBLOCK on fd 2 itself would change it for
 * them too.) In the guest fd 2 is /dev/console: a write(2) there waits while the serial line
 * drains, and agentd's main thread must never wait on its log.
 */
import { EAGAIN, O_CLOEXEC, O_NONBLOCK, openFd, PollSet, POLLOUT, writeFd } from "./fd-io.ts";

const O_WRONLY = 0o1;
const O_NOCTTY = 0o400;
// A regular file reopened gets an offset of its own: O_APPEND keeps lines from landing at 0.
const O_APPEND = 0o2000;

/** What one write did: bytes taken, "again" (full now) or "closed" (the reader is gone). */
export type SinkResult = number | "again" | "closed";

export class StderrSink {
  readonly #poll = new PollSet(1);

  private constructor(readonly fd: number) {}

  /**
   * stderr reopened without blocking, or null where that cannot be done (no /proc, a socket,
   * which cannot be opened by path, or no fd 2 at all): the caller then writes another way.
   */
  static open(): StderrSink | null {
    try {
      return new StderrSink(
        openFd("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_APPEND),
      );
    } catch {
      return null;
    }
  }

  /** One write(2) of `bytes`, never waiting. */
  write(bytes: Uint8Array): SinkResult {
    try {
      const n = writeFd(this.fd, bytes, "stderr");
      return n === -EAGAIN ? "again" : n;
    } catch {
      return "closed"; // EPIPE and the like: no reader left
    }
  }

  /** Waits up to `ms` for room (poll(2) POLLOUT); false when the time ran out. */
  waitWritable(ms: number): boolean {
    this.#poll.clear();
    this.#poll.add(this.fd, POLLOUT);
    try {
      this.#poll.poll(Math.max(0, Math.ceil(ms)));
    } catch {
      return false;
    }
    return this.#poll.revents(0) !== 0;
  }
}
