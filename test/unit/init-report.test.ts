/**
 * What init reports it set up (init/init.c, one word per line on the modules pipe) and the setup
 * plan without those steps. The VM tests check the guest has them all the same
 * (test/vm/setup.test.ts, §8.1's kernel filesystems and lo).
 */
import { expect, test } from "bun:test";
import { parseSetup } from "../../src/setup/grammar.ts";
import { NOTHING_REPORTED, parseInitReport } from "../../src/setup/init-report.ts";
import { setupSteps } from "../../src/setup/plan.ts";

test("parseInitReport: the words init writes, each alone; unknown words and blank lines are ignored; the port", () => {
  expect(parseInitReport("kernel-filesystems\nloopback\nruntime-share\n")).toEqual({
    kernelFilesystems: true,
    loopback: true,
    runtimeShare: true,
    port: null,
  });
  expect(parseInitReport("loopback\n")).toEqual({ ...NOTHING_REPORTED, loopback: true });
  expect(parseInitReport("kernel-filesystems\n\nsomething-newer\n")).toEqual({
    ...NOTHING_REPORTED,
    kernelFilesystems: true,
  });
  expect(parseInitReport("")).toEqual(NOTHING_REPORTED);
  expect(parseInitReport("loopback\nport /dev/vport1p1\n")).toEqual({
    ...NOTHING_REPORTED,
    loopback: true,
    port: "/dev/vport1p1",
  });
  expect(parseInitReport("port /dev/vport0p2")).toEqual({ ...NOTHING_REPORTED, port: "/dev/vport0p2" });
  expect(parseInitReport("port \nport\n")).toEqual(NOTHING_REPORTED);
  // A word is a whole line: no prefix or part of one counts.
  expect(parseInitReport("kernel-filesystems-partly\nno loopback\n")).toEqual(NOTHING_REPORTED);
});

test("setupSteps leaves out the kernel filesystems init mounted, not their second pass in a block root", () => {
  const parsed = parseSetup({ MSB_BLOCK_ROOT: "/dev/vda" });
  if (!parsed.ok) throw new Error("config");
  const ids = (kernelFilesystems: boolean) =>
    setupSteps(parsed.config, {}, { ...NOTHING_REPORTED, kernelFilesystems }).map((s) => s.id);
  expect(ids(false).filter((id) => id === "base-mounts")).toHaveLength(2);
  expect(ids(true).filter((id) => id === "base-mounts")).toHaveLength(1);
  expect(ids(true).indexOf("base-mounts")).toBeGreaterThan(ids(true).indexOf("block-root"));
  expect(ids(true)[0]).toBe("runtime");
});

test("setupSteps leaves out the runtime share init mounted", () => {
  const parsed = parseSetup({});
  if (!parsed.ok) throw new Error("config");
  expect(setupSteps(parsed.config, {}).map((s) => s.id)).toContain("runtime");
  expect(
    setupSteps(parsed.config, {}, { ...NOTHING_REPORTED, runtimeShare: true }).map((s) => s.id),
  ).not.toContain("runtime");
});
