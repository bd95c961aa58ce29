/**
 * The stdin pipe target on a real pipe (no child): a chunk larger than the pipe goes in whole and
 * in order while the reader is slow (the write waits for POLLOUT through the poller's Worker),
 * a reader that went away makes the write fail with EPIPE, end() closes agentd's end so the
 * reader sees its end of file, and the poller's Worker sleeps once nothing waits.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { pipeTarget } from "../../src/agent/exec/stdin-writer.ts";
import { inputPipe } from "../../src/sys/fd-io.ts";
import { closeFd } from "../../src/sys/libc.ts";
import { cpuTicks } from "../support.ts";

/**
 * A child that starts reading late and then reads the pipe to its end, handing back what it
 * read. A child, not a read(2) here: a blocking read on this thread would stop the writer.
 */
function lateReader(fd: number): Promise<Uint8Array> {
  const proc = Bun.spawn(["sh", "-c", "sleep 0.3; exec cat"], { stdin: fd, stdout: "pipe" });
  closeFd(fd); // the child has its copy; the pipe must end when the child's side closes
  return new Response(proc.stdout).bytes();
}

test("a 4 MiB chunk into a 64 KiB pipe arrives whole and in order; end() gives the reader EOF", async () => {
  const [r, w] = inputPipe(64 * 1024);
  const target = pipeTarget(w, "test stdin");
  const chunk = new Uint8Array(4 << 20).map((_, i) => (i * 7 + (i >> 12)) & 0xff);
  const reading = lateReader(r);
  await target.write(chunk);
  await target.write(Uint8Array.of(1, 2, 3));
  target.end();
  expect(existsSync(`/proc/self/fd/${w}`)).toBe(false);
  const got = await reading;
  expect(got.length).toBe(chunk.length + 3);
  expect(Buffer.from(got.subarray(0, chunk.length)).equals(Buffer.from(chunk))).toBe(true);
  expect([...got.subarray(chunk.length)]).toEqual([1, 2, 3]);
});

test("a reader that closed its end makes the write fail with EPIPE, even mid-chunk", async () => {
  const [r, w] = inputPipe(64 * 1024);
  const target = pipeTarget(w, "test stdin");
  const writing = target.write(new Uint8Array(1 << 20)); // fills the pipe, then waits
  await Bun.sleep(50);
  closeFd(r);
  await expect(writing).rejects.toThrow(/EPIPE/);
  target.end();
});

test("end() while a write waits for room: the write stops, nothing is written to a reused fd", async () => {
  const [r, w] = inputPipe(64 * 1024);
  const target = pipeTarget(w, "test stdin");
  const writing = target.write(new Uint8Array(1 << 20));
  await Bun.sleep(50);
  target.end();
  await expect(writing).rejects.toThrow(/stdin is closed/);
  closeFd(r);
});

/** CPU ticks of this process's Worker threads (Bun names each one's thread "Worker"). */
function workerTicks(): number {
  let sum = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim() !== "Worker") continue;
      sum += cpuTicks(readFileSync(`/proc/self/task/${tid}/stat`, "utf8"));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return sum;
}

test("the poller's Worker sleeps in poll(2) while no pipe is ready: < 5% of a core over a second", async () => {
  // The tests above started it (host mode: no port). It polled with a zero timeout, spinning a
  // core for as long as the process ran: agentd in host mode, and this test process through
  // every later test (CI's guests under TCG got one of two cores).
  const [r, w] = inputPipe(64 * 1024);
  const target = pipeTarget(w, "test stdin");
  const reading = lateReader(r);
  await target.write(new Uint8Array(1 << 20)); // waits for room: the Worker runs from here on
  target.end();
  expect((await reading).length).toBe(1 << 20);
  const before = workerTicks();
  await Bun.sleep(1000);
  expect(workerTicks() - before).toBeLessThan(5);
});
