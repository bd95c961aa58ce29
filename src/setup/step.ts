/**
 * A guest setup step: a name (printed in "agentd: setup failed: <step>: <reason>") and an action.
 * Steps run in PROTOCOL.md §8 order from one flat list; the first failure stops setup. Steps are
 * synchronous (each is a few system calls, and none awaited anything): when each was awaited, the
 * first step took 6-11 ms at boot under TCG even with nothing to do, and setup without the awaits
 * is ~9.5 ms shorter (median of six boots each), time that was on the way to core.ready.
 */
export interface SetupStep {
  readonly name: string;
  run(): void;
}

/** A step that could not be done as asked. */
export class SetupFailure extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
  ) {
    super(`${step}: ${reason}`);
    this.name = "SetupFailure";
  }
}

export function runSteps(steps: readonly SetupStep[]): void {
  for (const step of steps) {
    try {
      step.run();
    } catch (e) {
      throw new SetupFailure(step.name, e instanceof Error ? e.message : String(e));
    }
  }
}
