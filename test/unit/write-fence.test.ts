// The fence's rules on a fake claims collection with the store's one atomic guarantee (a unique
// _id), and the pause guard on a fake monotonic clock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ViewGuard, ViewNotCurrentError } from "../../lib/view-guard";
import { type ClaimCollection, type ClaimDoc, WriteFence } from "../../lib/write-fence";

function fakeClaims(): ClaimCollection & { docs: Map<string, ClaimDoc> } {
  const docs = new Map<string, ClaimDoc>();
  return {
    docs,
    async insertOne(doc) {
      if (docs.has(doc._id)) throw Object.assign(new Error("E11000 duplicate key"), { code: 11000 });
      docs.set(doc._id, doc);
    },
    async findOne(query) {
      return docs.get(query._id) ?? null;
    },
    async deleteMany(filter) {
      const before = (filter.at as { $lt: Date }).$lt;
      let deletedCount = 0;
      for (const [id, doc] of docs)
        if (doc.at < before) {
          docs.delete(id);
          deletedCount++;
        }
      return { deletedCount };
    },
  };
}

describe("write fence", () => {
  test("one claim per order version: the second claimant gets null", async () => {
    const claims = fakeClaims();
    const a = new WriteFence(claims, { nodeID: "a", ttlMs: 60_000 });
    const b = new WriteFence(claims, { nodeID: "b", ttlMs: 60_000 });
    const [first, second] = await Promise.all([a.claim("o1", 2), b.claim("o1", 2)]);
    assert.ok(first);
    assert.equal(second, null);
    assert.ok(await b.claim("o1", 3), "the next version is free");
    assert.ok(await b.claim("o2", 2), "another order is free");
  });

  test("a store error is not a lost claim: it is thrown", async () => {
    const fence = new WriteFence(
      {
        insertOne: async () => {
          throw new Error("connection reset");
        },
        findOne: async () => null,
        deleteMany: async () => ({ deletedCount: 0 }),
      },
      { nodeID: "a", ttlMs: 60_000 },
    );
    await assert.rejects(fence.claim("o1", 2), /connection reset/);
  });

  test("an orphan claim of this process (its reply lost) is taken up again while young", async () => {
    let now = 1_000_000;
    const claims = fakeClaims();
    const lostReply: ClaimCollection = {
      ...claims,
      insertOne: async (doc) => {
        await claims.insertOne(doc);
        throw new Error("connection reset");
      },
    };
    const opts = { ttlMs: 60_000, now: () => new Date(now) };
    await assert.rejects(new WriteFence(lostReply, { nodeID: "a/1", ...opts }).claim("o1", 2));
    const same = new WriteFence(claims, { nodeID: "a/1", ...opts });
    assert.equal(await new WriteFence(claims, { nodeID: "a/2", ...opts }).claim("o1", 2), null, "a restart");
    assert.equal(await new WriteFence(claims, { nodeID: "b/1", ...opts }).claim("o1", 2), null);
    assert.ok(await same.claim("o1", 2));
    now += 15_000;
    assert.equal(await same.claim("o1", 2), null, "too old to be sure it is not being swept");
  });

  test("a claim held past half its lifetime (a pause) is given up, never written", async () => {
    let t = 0;
    const fence = new WriteFence(fakeClaims(), { nodeID: "a", ttlMs: 60_000, monotonic: () => t });
    const claim = await fence.claim("o1", 2);
    assert.ok(claim);
    t = 29_999;
    assert.equal(fence.holds(claim), true);
    t = 30_000;
    assert.equal(fence.holds(claim), false);
  });

  test("the sweep deletes only claims older than their lifetime", async () => {
    let now = 1_000_000;
    const claims = fakeClaims();
    const fence = new WriteFence(claims, { nodeID: "a", ttlMs: 60_000, now: () => new Date(now) });
    await fence.claim("old", 2);
    now += 61_000;
    await fence.claim("young", 2);
    assert.equal(await fence.sweep(), 1);
    assert.deepEqual([...claims.docs.keys()], ["young@2"]);
  });
});

describe("view guard", () => {
  const guard = (clock: { t: number }) =>
    new ViewGuard({ pauseMs: 3_000, settleMs: 8_000, maxWaitMs: 200, monotonic: () => clock.t });
  /** Time passing with the event loop running: a tick every 250 ms. */
  const run = (g: ViewGuard, clock: { t: number }, to: number) => {
    while (clock.t < to) {
      clock.t = Math.min(to, clock.t + 250);
      g.tick();
    }
  };

  test("a gap longer than the pause threshold makes the view stale for settleMs", () => {
    const clock = { t: 0 };
    const g = guard(clock);
    g.start();
    try {
      clock.t = 250;
      g.tick();
      assert.equal(g.isCurrent(), true);
      clock.t = 8_250; // woke from an 8 s stop
      assert.equal(g.isCurrent(), false, "seen even before the overdue tick has run");
      run(g, clock, 16_249);
      assert.equal(g.isCurrent(), false);
      run(g, clock, 16_250);
      assert.equal(g.isCurrent(), true);
    } finally {
      g.stop();
    }
  });

  test("cut from the transporter: stale until reconnected and settled", () => {
    const clock = { t: 0 };
    const g = guard(clock);
    g.start();
    try {
      g.disconnected();
      run(g, clock, 30_000);
      assert.equal(g.isCurrent(), false);
      g.connected();
      run(g, clock, 37_999);
      assert.equal(g.isCurrent(), false);
      run(g, clock, 38_000);
      assert.equal(g.isCurrent(), true);
    } finally {
      g.stop();
    }
  });

  test("after settleMs the view stays stale until every peer has been heard from", () => {
    const clock = { t: 0 };
    let heard = false;
    const g = new ViewGuard({
      pauseMs: 3_000,
      settleMs: 3_000,
      maxWaitMs: 200,
      monotonic: () => clock.t,
      peersHeard: () => heard,
    });
    g.start();
    try {
      assert.equal(g.isCurrent(), true, "no pause yet: peers are not asked");
      clock.t = 10_000; // woke at 10.25 s, the first tick after the stop
      run(g, clock, 13_249);
      assert.equal(g.isCurrent(), false, "within settleMs");
      run(g, clock, 20_000);
      assert.equal(g.isCurrent(), false, "settled, but a peer has not been heard from");
      heard = true;
      assert.equal(g.isCurrent(), true);
      heard = false;
      assert.equal(g.isCurrent(), true, "asked once per stale spell");
    } finally {
      g.stop();
    }
  });

  test("a write waiting longer than maxWaitMs fails with a retryable 503", async () => {
    const g = new ViewGuard({ pauseMs: 3_000, settleMs: 8_000, maxWaitMs: 150 });
    g.start();
    try {
      g.disconnected();
      await assert.rejects(g.current(), (err: unknown) => {
        assert.ok(err instanceof ViewNotCurrentError);
        assert.equal(err.code, 503);
        return true;
      });
    } finally {
      g.stop();
    }
  });
});
