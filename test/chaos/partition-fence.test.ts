// The partition experiment (issue: ownership a node can prove). Node A runs in a network
// namespace of its own: NATS reached over one veth pair, FerretDB, Kafka and the HTTP simulators
// over another. 6 s into a load of 300 orders over 20 s (payment deadline 4 s, payments answered
// after 2–6 s), A's NATS pair goes down for 30 s, then comes back. Cut from NATS, A and B each
// believe the other dead and that they own every order, while both still reach the store and
// Kafka. The verdict comes from test/helpers/checker.ts. Needs root (ip netns); PARTITION_RUNS
// runs it several times (`npm run chaos:fence` runs it once more after the pause runs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { checkWhenSettled, printVerdict } from "../helpers/checker";
import type { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { token } from "../helpers/jwt";
import { canMakeNetns, createNetns, type Netns, placeInNetns } from "../helpers/netns";
import { placeOrders, verdictRow } from "../helpers/order-load";
import { startFenceWorld, type World } from "../helpers/world";

const env = infraEnv();
const noNetns = canMakeNetns();
if (noNetns && process.env.CI === "true") assert.fail(`CI=true and the partition test ${noNetns}`);
const skip = "skip" in env ? env.skip : noNetns;
const RUNS = Number(process.env.PARTITION_RUNS ?? "1");
const ORDERS = Number(process.env.FENCE_ORDERS ?? "300");
const LOAD_MS = Number(process.env.FENCE_LOAD_MS ?? "20000");
const CUT_AT_MS = 6_000;
const CUT_MS = Number(process.env.PARTITION_CUT_MS ?? "30000");
/** Names and addresses of this test's namespace (another test run on the machine uses others). */
const NETNS_PREFIX = process.env.NETNS_PREFIX ?? "hfence-";
const NETNS_NET = process.env.NETNS_NET ?? "10.231";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("chaos: a node cut from NATS but not from the store and Kafka", { skip, timeout: 3_600_000 }, () => {
  let world: World;
  let cluster: Cluster;
  let ns: Netns | undefined;
  let tok: string;
  const table: Record<string, unknown>[] = [];

  before(async () => {
    if ("skip" in env) return;
    world = await startFenceWorld(env);
    cluster = world.cluster;
    ns = await createNetns(NETNS_PREFIX, NETNS_NET, Math.floor(Math.random() * 60));
    const placement = await placeInNetns(ns, cluster.servers());
    await Promise.all([cluster.startNode("a", undefined, placement), cluster.startNode("b")]);
    tok = await token("partition");
  });

  after(async () => {
    if ("skip" in env) return;
    console.log(`\npartition experiment (WRITE_FENCE=${process.env.WRITE_FENCE ?? "on"})`);
    console.table(table);
    ns?.heal("nats");
    await world?.stop();
    await ns?.destroy();
  });

  for (let run = 0; run < RUNS; run++) {
    test(`run ${run + 1}: NATS cut for ${CUT_MS / 1000} s`, async () => {
      const load = await placeOrders(cluster, tok, `${cluster.id}-r${run}`, ORDERS, LOAD_MS, async () => {
        await sleep(CUT_AT_MS);
        ns!.cut("nats");
        await sleep(CUT_MS);
        ns!.heal("nats");
      });
      const verdict = await checkWhenSettled(world.checkerSources, load.ids, 180_000);
      printVerdict(`partition run ${run + 1}`, verdict);
      table.push(verdictRow({ run: run + 1, fault: `NATS cut ${CUT_MS / 1000} s` }, verdict, load));
      // The next run starts with both nodes seeing each other again.
      await sleep(10_000);
      assert.equal(verdict.accepted, ORDERS, "every order accepted once");
      assert.ok(verdict.ok, "nothing illegal, doubled, lost, or in disagreement");
      assert.ok(verdict.settled, "every order settled");
    });
  }
});
