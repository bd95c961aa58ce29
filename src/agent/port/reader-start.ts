/**
 * Starts the port reader's Worker (reader-worker.ts) once. A Worker is a JavaScriptCore VM of its
 * own, and under TCG it takes ~0.7 s to start cold, so guest mode starts it as agentd's first act
 * (agentd/early.ts): it boots on the other vCPU while agentd loads its modules and sets the guest
 * up, instead of after, when the host is already waiting for core.ready. Kept free of imports so
 * that nothing is evaluated before it.
 */
let reader: Worker | null = null;

/** The reader Worker, started now if it was not yet; it waits for its ReaderInit message. */
export function startReader(): Worker {
  // Inside the compiled binary a worker is found by its path from the bundle root (the repository
  // root, the common folder of the entry points); a URL from import.meta.url points at the
  // build machine's disk instead.
  reader ??= new Worker("./src/agent/port/reader-worker.ts");
  return reader;
}
