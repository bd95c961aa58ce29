/**
 * poll(2)'s event bits, in a module of their own: the shared tables that name them
 * (agent/exec/output-table.ts) are made before anything that opens libc is loaded
 * (agent/port/reader-start.ts).
 */
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
