import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { every, nextStartAfter, PHASE, SCAN_SPACING } from "../../lib/periodic";

/** Mocked timers, a clock the tasks can move, and a way to let a run's awaits settle. */
function fakeTime() {
  mock.timers.enable({ apis: ["setTimeout"] });
  let now = 0;
  return {
    now: () => now,
    spend(ms: number) {
      now += ms;
    },
    async advance(ms: number) {
      now += ms;
      mock.timers.tick(ms);
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

test("a periodic task starts at its phase of the interval, then runs once per interval until stopped", async () => {
  const time = fakeTime();
  try {
    const runs: number[] = [];
    const task = every(60_000, PHASE.relaySweep, () => runs.push(time.now()), time.now);
    await time.advance(19_999);
    assert.deepEqual(runs, [], "not before its phase");
    await time.advance(1);
    await time.advance(60_000);
    await time.advance(60_000);
    assert.deepEqual(runs, [20_000, 80_000, 140_000]);
    task.stop();
    await time.advance(120_000);
    assert.equal(runs.length, 3, "nothing after stop");
  } finally {
    mock.timers.reset();
  }
});

test("a run that takes long pushes the next one out: scans keep to 1/SCAN_SPACING of the time", async () => {
  const time = fakeTime();
  try {
    const runs: number[] = [];
    // The store has grown: every scan now takes 2 s.
    const task = every(
      60_000,
      1,
      async () => {
        runs.push(time.now());
        time.spend(2_000);
      },
      time.now,
    );
    await time.advance(60_000);
    assert.deepEqual(runs, [60_000]);
    await time.advance(60_000 - 2_000);
    assert.equal(runs.length, 1, "not one interval later");
    await time.advance(2_000 * SCAN_SPACING - 60_000);
    assert.deepEqual(runs, [60_000, 60_000 + 2_000 * SCAN_SPACING]);
    task.stop();
  } finally {
    mock.timers.reset();
  }
});

test("a failing run does not end the schedule", async () => {
  const time = fakeTime();
  try {
    let runs = 0;
    const task = every(
      1_000,
      1,
      async () => {
        runs++;
        throw new Error("store unavailable");
      },
      time.now,
    );
    await time.advance(1_000);
    await time.advance(1_000);
    assert.equal(runs, 2);
    task.stop();
  } finally {
    mock.timers.reset();
  }
});

test("the spacing rule: the interval, unless the run took more than its share", () => {
  assert.equal(nextStartAfter(60_000, 0), 60_000);
  assert.equal(nextStartAfter(60_000, 1_000), 60_000);
  assert.equal(nextStartAfter(60_000, 4_000), 4_000 * SCAN_SPACING);
});

test("the scans sharing an interval never start in the same third of it", () => {
  const phases = Object.values(PHASE).map((p) => p % 1);
  assert.equal(new Set(phases).size, phases.length);
  for (const a of phases)
    for (const b of phases) if (a !== b) assert.ok(Math.abs(a - b) >= 1 / 3 - 1e-9, `${a} vs ${b}`);
});
