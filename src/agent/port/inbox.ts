/** The shared inbox between the port reader (a Worker) and the main thread: sizes only. */

/**
 * Largest single read into a slot, 256 KiB; the port hands over at most what the host has
 * queued. One slot is one message to the main thread, and a message costs both threads more
 * than the copy it carries under TCG (a postMessage ~50 µs, the wake-up more): 256 KiB slots
 * instead of 64 KiB gave stdin 39.7 -> 50.0 and fs write 34.9 -> 43.8 MB/s on average (4 guests
 * x 2 uploads of 256 MiB each, all four pairs higher). That needs the decoder to keep no copy of
 * a slot's tail (FrameDecoder.pushBorrowed): with the old copy, RSS peaks rose by 5-7 MiB.
 */
export const READ_CHUNK = 256 * 1024;
/**
 * Slots in the shared inbox: reading stops while all are waiting for the main thread. Eight (2
 * MiB): during stdin the main thread writes each 1 MiB piece to the child's pipe in one system
 * call (2-3 ms under TCG), and with three slots the reader had filled them all and waited well
 * before it was done. Eight guests per setting, alternating, three 256 MiB stdin transfers each:
 * 124.9 against 113.7 MB/s on average (sixteen slots, two guests: about the same as eight); fs
 * write, four guests of two uploads each, 89.5 against 86.0. The slots' pages are touched only by
 * uploads, and allocating them at boot sets off no collection (test/vm/boot-gc.test.ts).
 */
export const INBOX_SLOTS = 8;
