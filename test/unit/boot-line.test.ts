/** agentd/boot-line.ts: the console line of guest mode's start, written and read back. */
import { expect, test } from "bun:test";
import { formatBootLine, parseBootLine } from "../../agentd/boot-line.ts";

const marks = {
  firstLineMs: 2401.25,
  workerStartedMs: 2488,
  mainMs: 2525.31,
  setupMs: 95.1,
  readyMs: 2672.4,
};

test("a boot line reads back as the marks it was made from (to 0.1 ms)", () => {
  const line = formatBootLine(marks);
  expect(line).toBe(
    "boot (ms since the kernel started): first line 2401.3, port thread started 2488.0, main 2525.3, setup 95.1, ready 2672.4",
  );
  const back = parseBootLine(`agentd: ${line}\nagentd: serving on /dev/vport0p1\n`)!;
  expect(back).toEqual({
    firstLineMs: 2401.3,
    workerStartedMs: 2488,
    mainMs: 2525.3,
    setupMs: 95.1,
    readyMs: 2672.4,
  });
});

test("core.ready's written mark goes last when there is one, and reads back", () => {
  const line = formatBootLine({ ...marks, writtenMs: 2684.06 });
  expect(line.endsWith(", ready 2672.4, written 2684.1")).toBe(true);
  expect(parseBootLine(`agentd: ${line}\n`)).toEqual({
    ...marks,
    firstLineMs: 2401.3,
    mainMs: 2525.3,
    writtenMs: 2684.1,
  });
  expect(parseBootLine(`agentd: ${formatBootLine(marks)}\n`)!.writtenMs).toBeUndefined();
  expect(parseBootLine(`agentd: ${formatBootLine(marks)}, written x\n`)).toBeNull();
});

test("the last boot line counts (a restarted agentd writes another), and a broken one is none", () => {
  const later = formatBootLine({ ...marks, readyMs: 9000 });
  expect(parseBootLine(`agentd: ${formatBootLine(marks)}\nagentd: ${later}\n`)!.readyMs).toBe(9000);
  expect(parseBootLine("agentd: serving on /dev/vport0p1\n")).toBeNull();
  expect(parseBootLine("agentd: boot (ms since the kernel started): first line x, main 1\n")).toBeNull();
  expect(parseBootLine("agentd: boot (ms since the kernel started): first line 1, main 2\n")).toBeNull();
  // A line cut off by the console (no "ready" yet) is none either.
  expect(parseBootLine(`agentd: ${formatBootLine(marks).slice(0, 90)}`)).toBeNull();
});
