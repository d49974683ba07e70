// The pause experiment (issue: ownership a node can prove). Two nodes on NATS, FerretDB and
// Kafka; payment deadline 4 s; the payment service answers after 2–6 s, so about half of the
// orders are cancelled by their deadline while their payment is on its way. 300 orders over 20 s
// through both gateways; node A is stopped (SIGSTOP) 6 s into the load and resumed after the
// given pause. With an 8 s pause the other node takes A's orders (heartbeat timeout 6 s) while A's
// Kafka consumer keeps its partitions (session timeout 10 s): both act on the same orders.
// The verdict comes from test/helpers/checker.ts (the Kafka log, the store, the ledgers).
//
// FENCE_RUNS lists the pauses in seconds, one run each (0 = a control without pause). The suite
// runs one 8 s pause; `npm run chaos:fence` runs the full set (control, 8 s ×3, 15 s ×3).
// WRITE_FENCE=off runs the nodes unfenced (the table before the fence).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { checkWhenSettled, printVerdict } from "../helpers/checker";
import type { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { token } from "../helpers/jwt";
import { placeOrders, verdictRow } from "../helpers/order-load";
import { startFenceWorld, type World } from "../helpers/world";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;
const RUNS = (process.env.FENCE_RUNS ?? "8").split(",").map((s) => Number(s.trim()));
const ORDERS = Number(process.env.FENCE_ORDERS ?? "300");
const LOAD_MS = Number(process.env.FENCE_LOAD_MS ?? "20000");
const PAUSE_AT_MS = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("chaos: a node paused past its heartbeat, writes fenced", { skip, timeout: 3_600_000 }, () => {
  let world: World;
  let cluster: Cluster;
  let tok: string;
  const table: Record<string, unknown>[] = [];

  before(async () => {
    if ("skip" in env) return;
    world = await startFenceWorld(env);
    cluster = world.cluster;
    await Promise.all([cluster.startNode("a"), cluster.startNode("b")]);
    tok = await token("pause");
  });

  after(async () => {
    if ("skip" in env) return;
    console.log(`\npause experiment (WRITE_FENCE=${process.env.WRITE_FENCE ?? "on"})`);
    console.table(table);
    const a = cluster?.nodes.get("a");
    a?.process.kill("SIGCONT");
    await world?.stop();
  });

  RUNS.forEach((pauseS, run) => {
    const name = pauseS > 0 ? `pause ${pauseS} s` : "control";
    test(`run ${run + 1}: ${name}`, async () => {
      const a = cluster.nodes.get("a")!;
      const load = await placeOrders(cluster, tok, `${cluster.id}-r${run}`, ORDERS, LOAD_MS, async () => {
        if (pauseS <= 0) return;
        await sleep(PAUSE_AT_MS);
        a.process.kill("SIGSTOP");
        await sleep(pauseS * 1_000);
        a.process.kill("SIGCONT");
      });
      const verdict = await checkWhenSettled(world.checkerSources, load.ids, 180_000);
      printVerdict(`run ${run + 1}, ${name}`, verdict);
      table.push(verdictRow({ run: run + 1, pause: name }, verdict, load));
      // The next run starts with both nodes seeing each other again (A's view settles after a pause).
      await sleep(pauseS > 0 ? 10_000 : 1_000);
      assert.equal(verdict.accepted, ORDERS, "every order accepted once");
      assert.ok(verdict.ok, "nothing illegal, doubled, lost, or in disagreement");
      assert.ok(verdict.settled, "every order settled");
    });
  });
});
