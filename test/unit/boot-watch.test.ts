/** The stuck-boot check (src/host/vm/boot-watch.ts) on consoles as the guest writes them. */
import { expect, test } from "bun:test";
import { pastFirmware } from "../../src/host/vm/boot-watch.ts";

// What CI's two stuck boots had on their console, byte for byte in shape.
const FIRMWARE =
  "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from ROM...\n\x1bc\x1b[?7l\x1b[2J";

test("the firmware's lines alone, with its escape sequences, are no sign of life", () => {
  expect(pastFirmware("")).toBe(false);
  expect(pastFirmware(FIRMWARE)).toBe(false);
  expect(pastFirmware(FIRMWARE + "\n\n  \n")).toBe(false);
});

test("a line from the kernel, init or agentd after the firmware is", () => {
  expect(
    pastFirmware(FIRMWARE + "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs\n"),
  ).toBe(true);
  expect(pastFirmware(FIRMWARE + "init: agentd exited with status 1\n")).toBe(true);
  expect(pastFirmware(FIRMWARE + "agentd: setup failed: configuration: MSB_USER\n")).toBe(true);
  // A partial line counts too: the console is read while the guest writes it.
  expect(pastFirmware(FIRMWARE + "ini")).toBe(true);
});
