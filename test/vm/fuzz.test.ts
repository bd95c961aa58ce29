/** A shorter fuzz run against the real guest, through the virtio port. */
import { expect, test } from "bun:test";
import { fuzz } from "../../scripts/fuzz.ts";
import { guestPerFile } from "./guest-per-file.ts";

const guest = guestPerFile();

test("2,000 fuzzed frames through the port: the guest agent keeps answering", async () => {
  const r = await fuzz(guest.state.socket, 2_000, 7, null, 500);
  expect(r.failures).toEqual([]);
  expect(r.frames + r.skippedShutdowns).toBe(2_000);
  expect(r.batches).toBeGreaterThanOrEqual(4);
  const c = await guest.connect();
  const rss = await c.exec("sh", ["-c", "grep VmRSS /proc/$(pidof agentd)/status"]).collect();
  const kib = Number(/(\d+)/.exec(Buffer.from(rss.stdout).toString())?.[1]);
  expect(kib).toBeGreaterThan(0);
  expect(kib).toBeLessThan(128 * 1024);
  c.close();
  await c.closed();
}, 600_000);
