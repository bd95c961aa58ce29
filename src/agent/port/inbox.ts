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
/**
 * The word after the slots' states: 1 while the reader waits for a slot to be freed. The main
 * thread wakes it only then: an Atomics.notify per slot, with nobody waiting nearly always, was
 * 5.5% of the main thread's samples during stdin (a CPU profile in the guest, two 256 MiB
 * transfers). With the one-piece frames of frame-decoder.ts's #startStream: stdin 118.6 -> 135.5
 * MB/s on average (eight guests each, alternating, three transfers each). The reader sets the
 * word before it waits and the main thread frees the slot before it reads the word (both
 * sequentially consistent), so a wake-up is never missed: either the main thread sees the word,
 * or the reader's wait sees the slot already free.
 */
export const READER_WAITING = INBOX_SLOTS;
/** Int32 words of the slots' shared state: one per slot, then READER_WAITING. */
export const SLOT_STATE_WORDS = INBOX_SLOTS + 1;
