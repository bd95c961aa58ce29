/** bench/skeleton/main.ts's first module: the Worker starts before bun:ffi loads, as in agentd. */
export const lineAt = performance.now();
// Found by its path from the bundle's root, the entry points' common folder (bench/skeleton).
export const worker = new Worker("./worker.ts");
export const workerAt = performance.now();
