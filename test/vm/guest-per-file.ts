/**
 * One guest for all the tests of a file: booted before the first test, stopped after the last.
 * The returned Guest stands for it from the start, so a file declares it once at the top.
 */
import { afterAll, beforeAll } from "bun:test";
import { bootGuest, type Guest } from "./harness.ts";
import type { StartOptions } from "../../src/host/vm/launcher.ts";

export function guestPerFile(opts: Partial<StartOptions> = {}): Guest {
  let booted: Guest | null = null;
  beforeAll(async () => {
    booted = await bootGuest(opts);
  }, 120_000);
  afterAll(async () => {
    await booted?.stop();
  }, 60_000);
  const get = (): Guest => {
    if (!booted) throw new Error("the file's guest did not boot (see the beforeAll failure)");
    return booted;
  };
  return {
    get state() {
      return get().state;
    },
    get dir() {
      return get().dir;
    },
    connect: () => get().connect(),
    stop: () => get().stop(),
  };
}
