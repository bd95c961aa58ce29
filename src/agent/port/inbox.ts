/** The shared inbox between the port reader (a Worker) and the main thread: sizes only. */

/** Largest single read; the port hands over at most what the host has queued. */
export const READ_CHUNK = 64 * 1024;
/** Slots in the shared inbox: reading stops while all are waiting for the main thread. */
export const INBOX_SLOTS = 4;
