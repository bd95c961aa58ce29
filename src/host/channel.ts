/**
 * An async queue of chunks that a consumer pulls with `for await`, counting its bytes so the
 * client can stop reading the socket while a consumer lags (backpressure toward the agent).
 */
export class Channel<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #bytes = 0;
  #waiter: (() => void) | null = null;
  #ended = false;
  #error: Error | null = null;

  constructor(
    readonly size: (item: T) => number,
    /** Called whenever the held byte count changes. */
    readonly onLevel: () => void = () => {},
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#bytes += this.size(item);
    this.onLevel();
    this.#wake();
  }

  end(error: Error | null = null): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#items.length > 0) {
        const item = this.#items.shift()!;
        this.#bytes -= this.size(item);
        this.onLevel();
        yield item;
        continue;
      }
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }
}
