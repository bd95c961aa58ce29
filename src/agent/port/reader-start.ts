/**
 * Starts the port reader's Worker (reader-worker.ts) once. A Worker is a JavaScriptCore VM of its
 * own, and under TCG it takes ~0.7 s to start cold, so guest mode starts it as agentd's first act
 * (agentd/early.ts): it boots on the other vCPU while agentd loads its modules and sets the guest
 * up, instead of after, when the host is already waiting for core.ready. Kept free of imports so
 * that nothing is evaluated before it.
 */
let reader: Worker | null = null;
/** Int32 [0]: 1 once the warm-up must stop (the port is about to be handed over). */
let warmStop: Int32Array | null = null;

/** What the Worker gets first when it is to warm its copy path up (see port/warm-up.ts). */
export interface WarmUpRequest {
  warmUp: SharedArrayBuffer;
}

/**
 * The reader Worker, started now if it was not yet; it waits for its ReaderInit message. With
 * `warmUp`, a new Worker first runs its copy path on a private pipe until stopWarmUp().
 */
export function startReader(warmUp = false): Worker {
  if (reader) return reader;
  // Inside the compiled binary a worker is found by its path from the bundle root (the repository
  // root, the common folder of the entry points); a URL from import.meta.url points at the
  // build machine's disk instead.
  reader = new Worker("./src/agent/port/reader-worker.ts");
  if (warmUp) {
    const stop = new SharedArrayBuffer(4);
    warmStop = new Int32Array(stop);
    reader.postMessage({ warmUp: stop } satisfies WarmUpRequest);
  }
  return reader;
}

/** Ends the Worker's warm-up after its current frame (a no-op when there is none). */
export function stopWarmUp(): void {
  if (warmStop) Atomics.store(warmStop, 0, 1);
}
