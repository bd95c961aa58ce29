/**
 * A guest setup step: a name (printed in "agentd: setup failed: <step>: <reason>") and an action.
 * Steps run in PROTOCOL.md §8 order from one flat list; the first failure stops setup.
 */
export interface SetupStep {
  readonly name: string;
  run(): void | Promise<void>;
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

export async function runSteps(steps: readonly SetupStep[]): Promise<void> {
  for (const step of steps) {
    try {
      await step.run();
    } catch (e) {
      throw new SetupFailure(step.name, e instanceof Error ? e.message : String(e));
    }
  }
}
