import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { every, PHASE } from "../../lib/periodic";

test("a periodic task starts at its phase of the interval, then runs once per interval until stopped", () => {
  mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  try {
    const runs: number[] = [];
    let now = 0;
    const advance = (ms: number) => {
      now += ms;
      mock.timers.tick(ms);
    };
    const task = every(60_000, PHASE.relaySweep, () => runs.push(now));
    advance(19_999);
    assert.deepEqual(runs, [], "not before its phase");
    advance(1);
    advance(60_000);
    advance(60_000);
    assert.deepEqual(runs, [20_000, 80_000, 140_000]);
    task.stop();
    advance(120_000);
    assert.equal(runs.length, 3, "nothing after stop");
  } finally {
    mock.timers.reset();
  }
});

test("the scans sharing an interval never start in the same third of it", () => {
  const phases = Object.values(PHASE).map((p) => p % 1);
  assert.equal(new Set(phases).size, phases.length);
  for (const a of phases)
    for (const b of phases) if (a !== b) assert.ok(Math.abs(a - b) >= 1 / 3 - 1e-9, `${a} vs ${b}`);
});
