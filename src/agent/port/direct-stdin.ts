/**
 * The main thread's side of stdin written by the port thread (port/inbound-split.ts): a session's
 * pipe is entered in the shared table (stdin-table.ts) with a descriptor of the port thread's own,
 * told whether its writer holds stdin, and stopped when its stdin closes or the session ends.
 * Guest mode only: host mode has no port thread reading a port.
 */
import { dupFd } from "../../sys/fd-io.ts";
import { closeFd } from "../../sys/libc.ts";
import { claimEntry, setHeld, stopEntry, type StdinEntry } from "./stdin-table.ts";

/** One session's entry, as its stdin target uses it. */
export interface DirectPipe {
  /** The session's writer holds stdin not yet written (the port thread must not write then). */
  held(on: boolean): void;
  /** No more writes from the port thread; it closes its descriptor soon after. */
  stop(): void;
}

export class DirectStdin {
  readonly #table: Int32Array;

  constructor(
    table: SharedArrayBuffer,
    readonly wake: () => void,
  ) {
    this.#table = new Int32Array(table);
  }

  /**
   * Enters session `id`'s pipe (`fd`, the main thread's); null when the table is full or no
   * descriptor is left for the port thread's copy: the session's stdin then all goes through the
   * main thread, as in host mode.
   */
  register(id: number, fd: number, subject: string): DirectPipe | null {
    let own: number;
    try {
      own = dupFd(fd, subject);
    } catch {
      return null;
    }
    const entry: StdinEntry | null = claimEntry(this.#table, id, own);
    if (!entry) {
      closeFd(own);
      return null;
    }
    const table = this.#table;
    return {
      held: (on) => setHeld(table, entry, on),
      stop: () => {
        if (stopEntry(table, entry)) this.wake();
      },
    };
  }
}

let shared: DirectStdin | null = null;

/** Guest mode: the port thread's table, once the reader is started (port-link.ts). */
export function installDirectStdin(direct: DirectStdin): void {
  shared = direct;
}

export function directStdin(): DirectStdin | null {
  return shared;
}
