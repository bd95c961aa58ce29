/** agentctl's pure parts: the progress line and the exit-code table. */
import { describe, expect, test } from "bun:test";
import { formatBytes, formatDuration, formatProgress } from "../../src/host/cli/progress.ts";
import { Exit, execErrorCode, execExitCode, exitCodeOf } from "../../src/host/cli/exit-codes.ts";
import { ConnectionError, ExecStartError, RemoteFsError } from "../../src/host/errors.ts";
import { usageError } from "../../src/host/cli/options.ts";

describe("progress line", () => {
  test("bytes and durations", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(64 * 1024 * 1024)).toBe("64.0 MiB");
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(75.4)).toBe("1:15");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Infinity)).toBe("--:--");
  });
  test("percent, bytes, rate and time left, fitted to the width", () => {
    const line = formatProgress(
      { done: 32 * 1048576, total: 64 * 1048576, filesDone: 3, filesTotal: 10 },
      4,
      120,
    );
    expect(line).toBe(
      "[###############               ]  50%  32.0 MiB / 64.0 MiB  8.0 MiB/s  0:04 left  3/10 files",
    );
    expect(
      formatProgress({ done: 1, total: 2, filesDone: 0, filesTotal: 1 }, 1, 20).length,
    ).toBeLessThanOrEqual(20);
  });
  test("an unknown total shows bytes and rate only", () => {
    expect(formatProgress({ done: 2048, total: null, filesDone: 0, filesTotal: 1 }, 2, 80)).toBe(
      "2.0 KiB  1.0 KiB/s",
    );
  });
});

describe("exit codes", () => {
  test("non-exec commands: usage 2, unreachable 3, anything else 1", () => {
    expect(exitCodeOf(usageError("x"))).toBe(Exit.USAGE);
    expect(exitCodeOf(new ConnectionError("x"))).toBe(Exit.UNREACHABLE);
    expect(exitCodeOf(new RemoteFsError("Stat", "/x", "stat: No such file or directory"))).toBe(Exit.FAILED);
    expect(exitCodeOf(new Error("x"))).toBe(Exit.FAILED);
  });
  test("exec: the command's code, 128+signal, 126/127 for start failures, 125 for agentctl", () => {
    expect(execExitCode({ code: 0 }, null)).toBe(0);
    expect(execExitCode({ code: 300 }, null)).toBe(44);
    expect(execExitCode({ code: -1, signal: 9 }, null)).toBe(137);
    expect(execExitCode({ code: -1 }, null)).toBe(255);
    expect(execExitCode({ code: -1 }, new ExecStartError("cannot run 'x': No such file or directory"))).toBe(
      127,
    );
    expect(execExitCode({ code: -1 }, new ExecStartError("cannot run 'x': unknown user 'bob'"))).toBe(126);
    expect(execErrorCode(new ConnectionError("gone"))).toBe(125);
    expect(execErrorCode(usageError("bad"))).toBe(125);
  });
});
