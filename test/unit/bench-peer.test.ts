// The peer mode's arithmetic, not its timings: options, means of the A B B A runs, the open rate
// both sides get, and the ratio lines ours ÷ peer with their targets.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Figures,
  meanFigures,
  openRateFor,
  parsePeerArgs,
  peerRatios,
  sideBySide,
} from "../../bench/peer";

const figures = (over: Partial<Figures> = {}): Figures => ({
  completedPerSecond: 100,
  postP50: 5,
  postP99: 20,
  sagaP50: 30,
  sagaP99: 90,
  serviceCpuMs: 3,
  machineCpuMs: 12,
  testCpuMs: 9,
  rssMb: 150,
  readyMs: 2_000,
  errors: {},
  ...over,
});

test("parsePeerArgs: defaults, given values, and a warm-up that follows short runs", () => {
  assert.deepEqual(parsePeerArgs(["--mode", "peer"]), {
    seconds: 10,
    concurrency: 32,
    openRate: 0,
    warmUp: 10,
  });
  assert.deepEqual(
    parsePeerArgs([
      "--mode",
      "peer",
      "--seconds",
      "15",
      "--concurrency",
      "8",
      "--open-rate",
      "40",
      "--warm-up",
      "20",
    ]),
    { seconds: 15, concurrency: 8, openRate: 40, warmUp: 20 },
  );
  // The smoke run (--seconds 3) does not sit through a 10 s warm-up.
  assert.equal(parsePeerArgs(["--mode", "peer", "--seconds", "3"]).warmUp, 3);
});

test("parsePeerArgs: refuses bad values with the option's name", () => {
  assert.throws(() => parsePeerArgs(["--seconds", "abc"]), /--seconds needs a number ≥ 1, got "abc"/);
  assert.throws(() => parsePeerArgs(["--seconds", "0"]), /--seconds/);
  assert.throws(() => parsePeerArgs(["--seconds"]), /--seconds needs a number ≥ 1, got nothing/);
  assert.throws(() => parsePeerArgs(["--seconds", "--concurrency", "4"]), /--seconds/);
  assert.throws(() => parsePeerArgs(["--concurrency", "2.5"]), /--concurrency needs a whole number/);
  assert.throws(() => parsePeerArgs(["--open-rate", "-1"]), /--open-rate needs a number ≥ 0/);
});

test("meanFigures: means each figure over the runs and sums the errors", () => {
  const m = meanFigures([
    figures({ completedPerSecond: 100, rssMb: 140, errors: { "http-503": 2 } }),
    figures({ completedPerSecond: 120, rssMb: 160, errors: { "http-503": 1, "not-completed": 4 } }),
  ]);
  assert.equal(m.completedPerSecond, 110);
  assert.equal(m.rssMb, 150);
  assert.deepEqual(m.errors, { "http-503": 3, "not-completed": 4 });
  assert.throws(() => meanFigures([]), /no runs/);
});

test("openRateFor: the rate asked for, else half of the slower side's closed rate", () => {
  const closed = { ours: figures({ completedPerSecond: 200 }), peer: figures({ completedPerSecond: 81 }) };
  assert.equal(openRateFor(parsePeerArgs([]), closed), 40);
  assert.equal(openRateFor(parsePeerArgs(["--open-rate", "25"]), closed), 25);
  assert.equal(
    openRateFor(parsePeerArgs([]), { ours: figures({ completedPerSecond: 0 }), peer: figures() }),
    1,
  );
});

test("peerRatios: ours ÷ peer for each figure of the issue, with its target", () => {
  const closed = {
    ours: figures({ completedPerSecond: 150, serviceCpuMs: 2, rssMb: 150, readyMs: 2_000 }),
    peer: figures({ completedPerSecond: 100, serviceCpuMs: 4, rssMb: 400, readyMs: 10_000 }),
  };
  const open = { ours: figures({ sagaP99: 45 }), peer: figures({ sagaP99: 90 }), rate: 50 };
  const ratios = peerRatios(closed, open);
  const byName = new Map(ratios.map(([name, value, target]) => [name, { value, target }]));
  assert.deepEqual(byName.get("peer: completed orders/s, ours ÷ Spring Boot (closed model)"), {
    value: 1.5,
    target: "≥ 1.0",
  });
  assert.deepEqual(byName.get("peer: service CPU ms per completed order, ours ÷ Spring Boot"), {
    value: 0.5,
    target: "≤ 1.0",
  });
  assert.deepEqual(byName.get("peer: RSS at the end, ours ÷ Spring Boot"), { value: 0.375, target: "≤ 0.5" });
  assert.deepEqual(byName.get("peer: time from start to ready, ours ÷ Spring Boot"), {
    value: 0.2,
    target: "≤ 0.5",
  });
  assert.deepEqual(byName.get("peer: saga completion p99 at 50 orders/s, ours ÷ Spring Boot"), {
    value: 0.5,
    target: "≤ 1.0",
  });
  assert.equal(ratios.length, 6);
});

test("sideBySide: one line per figure, both columns filled", () => {
  const closed = { ours: figures(), peer: figures({ rssMb: 400, errors: { "http-500": 3 } }) };
  const lines = sideBySide(closed, { ours: figures(), peer: figures() });
  assert.match(lines[0]!, /ours\s+Spring Boot/);
  assert.ok(lines.some((l) => /RSS at the end, MB\s+150\s+400/.test(l)));
  assert.ok(lines.some((l) => /errors \(closed\)\s+-\s+http-500:3/.test(l)));
  assert.ok(lines.some((l) => /start to ready, ms\s+2000\s+2000/.test(l)));
});
