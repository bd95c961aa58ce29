/** The spawn limit: at most MAX_SPAWNING spawns at once, the rest served in the order they asked. */
import { expect, test } from "bun:test";
import { MAX_SPAWNING, spawnTurn } from "../../src/agent/exec/spawn.ts";

test("past the limit a spawn waits for a turn, and turns go in order of asking", async () => {
  const held = await Promise.all(Array.from({ length: MAX_SPAWNING }, () => spawnTurn()));
  const served: number[] = [];
  const waiting = [0, 1, 2].map((i) => spawnTurn().then((done) => (served.push(i), done)));
  await Bun.sleep(10);
  expect(served).toEqual([]);
  held[0]!();
  held[0]!(); // a second call gives nothing back twice
  // A newcomer asking now queues behind the three: the freed turn went to the first in line.
  const late = spawnTurn().then((done) => (served.push(3), done));
  await Bun.sleep(10);
  expect(served).toEqual([0]);
  held[1]!();
  held[2]!();
  const rest = await Promise.all(waiting);
  expect(served).toEqual([0, 1, 2]);
  held[3]!();
  rest.push(await late);
  expect(served).toEqual([0, 1, 2, 3]);
  for (const done of [...held.slice(4), ...rest]) done();
  // All turns are back: a new spawn gets one at once.
  const again = await Promise.race([spawnTurn(), Bun.sleep(50).then(() => null)]);
  expect(again).not.toBeNull();
  again!();
});
