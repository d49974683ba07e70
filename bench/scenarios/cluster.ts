// The real-infra modes (`--mode infra1|infra2`, and after the embedded runs in `all`): one and
// two service nodes, each its own process running the compiled service (as the Docker image
// does), on the real Kafka, FerretDB and NATS started by scripts/infra.sh. First the servers'
// own ceilings (scenarios/ceilings.ts); then per node count, after a warm-up, POST latency and
// rate at fixed concurrency (closed model) with each node's CPU and RSS from /proc, and saga
// completion up to the Kafka timestamp of the order's OrderConfirmed/OrderCancelled (bench/saga.ts).
// With two nodes, an open model (fixed arrival rate) at half of the measured peak or
// `--open-rate`: its note says how full the machine is (every server's and the bench's CPU, the
// whole machine's busy and stolen share, the bench's event-loop delay) and where the saga's time
// went, hop by hop.
import type { InfraEnv } from "../../test/helpers/env";
import { token } from "../../test/helpers/jwt";
import { openLoad, percentile, type Summary } from "../load";
import { machineNote, sampleMachine, sampleProc, serverProcesses } from "../proc";
import { fmt, type Ratio } from "../report";
import { type Bench, COMPLETION, loopDelay, NONE, procNote, startBenchWorld } from "../runner";
import { type Completion, observeSaga, placeOrders, type SagaStamps } from "../saga";
import { ferretCeiling, kafkaCeiling } from "./ceilings";

/**
 * p50/p99 of each hop of the saga: POST sent → OrderCreated produced (the POST's handling and the
 * relay) → payment result produced (Kafka hop and the payment simulator) → OrderConfirmed
 * produced (Kafka hop, routing to the owner, the store's update, the relay). Kafka timestamps
 * have millisecond resolution.
 */
function stageNote(c: Completion, s: SagaStamps): string {
  const names = ["POST→created", "created→paid", "paid→settled"];
  const orders: number[][] = [];
  for (const [id, placedAt] of c.placed) {
    const created = s.created.get(id);
    const paid = s.paid.get(id);
    const settled = s.settled.get(id);
    if (created === undefined || paid === undefined || settled === undefined) continue;
    const sent = performance.timeOrigin + placedAt;
    orders.push([created - sent, paid - created, settled - paid]);
  }
  const each = names.map((name, hop) => {
    const ms = orders.map((o) => o[hop]!).sort((a, b) => a - b);
    return `${name} p50 ${fmt(percentile(ms, 50), 0)} p99 ${fmt(percentile(ms, 99), 0)}`;
  });
  // Which hop the slowest orders lost their time in: the tail is not the sum of the hops' p99s.
  const total = (o: number[]) => o[0]! + o[1]! + o[2]!;
  const slowest = [...orders]
    .sort((a, b) => total(b) - total(a))
    .slice(0, Math.max(1, Math.ceil(orders.length / 100)));
  const mean = (hop: number) => fmt(slowest.reduce((sum, o) => sum + o[hop]!, 0) / slowest.length, 0);
  return `${each.join("; ")}; slowest 1% (${slowest.length}) on average ${names.map((n, hop) => `${n} ${mean(hop)}`).join(", ")}`;
}

async function clusterService(
  bench: Bench,
  nodes: number,
  servers: InfraEnv,
): Promise<{ post: Summary; saga: Summary; half?: Summary }> {
  const world = await startBenchWorld(servers);
  const { cluster } = world;
  const names = Array.from({ length: nodes }, (_, i) => `n${i}`);
  await Promise.all(names.map((n) => cluster.startNode(n)));
  const completion: Completion = { placed: new Map(), done: new Map() };
  const observer = await observeSaga(
    servers.kafkaBrokers,
    cluster.topics,
    `${cluster.id}-observer`,
    completion,
  );
  const auth = { authorization: `Bearer ${await token("bench-user")}` };
  const label = `service (real infra, ${nodes} node${nodes > 1 ? "s" : ""})`;
  // Round robin over the nodes.
  const urlFor = (i: number) => `${cluster.nodes.get(names[i % nodes]!)!.url}/api/v1/orders`;
  const shot = placeOrders(urlFor, auth, completion);
  await bench.warmUp(placeOrders(urlFor, auth, { placed: new Map(), done: new Map() }));
  const pids = names.map((n) => cluster.nodes.get(n)!.process.pid!);
  const before = pids.map((pid) => sampleProc(pid));
  const result = await bench.closed(label, shot);
  const after = pids.map((pid) => sampleProc(pid));
  await new Promise((r) => setTimeout(r, 5000));
  const post = bench.record(`${label}: POST /api/v1/orders`, result, procNote(names, before, after));
  const saga = bench.completion(`${label}: saga completion`, completion, result.durationMs / 1000);
  let half: Summary | undefined;
  if (nodes > 1 && post.perSecond > 2) {
    const halfCompletion = completion;
    halfCompletion.placed.clear();
    halfCompletion.done.clear();
    // At half of peak the servers and the bench process too: how full the machine is.
    const measured: [string, number][] = [
      ...names.map((n, i): [string, number] => [n, pids[i]!]),
      ...serverProcesses(),
      ["bench", process.pid],
    ];
    const halfBefore = measured.map(([, pid]) => sampleProc(pid));
    const machineBefore = sampleMachine();
    const lag = loopDelay();
    const open = await openLoad(
      `${label} @ half peak`,
      shot,
      bench.args.openRate || post.perSecond / 2,
      bench.args.seconds * 1000,
    );
    const lagNote = lag.stop();
    const halfAfter = measured.map(([, pid]) => sampleProc(pid));
    const machineAfter = sampleMachine();
    await new Promise((r) => setTimeout(r, 5000));
    bench.record(
      `${label}: POST at half of peak (open model)`,
      open,
      `${procNote(
        measured.map(([n]) => n),
        halfBefore,
        halfAfter,
      )}; ${machineNote(machineBefore, machineAfter)}; ${lagNote}`,
    );
    half = bench.completion(
      `${label}: saga completion at half of peak`,
      halfCompletion,
      open.durationMs / 1000,
      `${COMPLETION}; hops ${stageNote(halfCompletion, observer.stamps)}`,
    );
  }
  await observer.stop();
  await world.stop();
  return { post, saga, half };
}

/** The servers' ceilings, then one node (infra1, all) and two (infra2, all); their ratio lines. */
export async function clusterScenario(
  bench: Bench,
  servers: InfraEnv,
  gatewayPost: Summary,
): Promise<Ratio[]> {
  const { mode, skipCeilings } = bench.args;
  const ratios: Ratio[] = [];
  const kafka = skipCeilings ? NONE : await kafkaCeiling(bench, servers.kafkaBrokers);
  const ferret = skipCeilings
    ? { small: NONE, orders: NONE, lifecycle: NONE }
    : await ferretCeiling(bench, servers.mongoUrl);
  // The issue's definition: the slowest of the component ceilings measured in this run. Both
  // store ceilings are shown, since the ratio depends on which one is taken.
  const slowest = Math.min(
    kafka.perSecond,
    ferret.small.perSecond,
    ferret.orders.perSecond,
    gatewayPost.perSecond,
  );
  const slowestSmall = Math.min(kafka.perSecond, ferret.small.perSecond, gatewayPost.perSecond);
  if (mode !== "infra2") {
    const one = await clusterService(bench, 1, servers);
    ratios.push([
      "real infra, 1 node: completed orders/s ÷ slowest component ceiling",
      one.saga.perSecond / slowest,
      "(context)",
    ]);
  }
  if (mode !== "infra1") {
    const two = await clusterService(bench, 2, servers);
    ratios.push(
      [
        "real infra, 2 nodes: completed orders/s ÷ slowest component ceiling",
        two.saga.perSecond / slowest,
        "≥ 0.6",
      ],
      [
        "real infra, 2 nodes: the same, ÷ slowest ceiling without the order-document one",
        two.saga.perSecond / slowestSmall,
        "(context)",
      ],
      [
        "real infra, 2 nodes: completed orders/s ÷ a confirmed order's 4 FerretDB operations alone",
        two.saga.perSecond / ferret.lifecycle.perSecond,
        "(context)",
      ],
    );
    if (two.half)
      ratios.push(["real infra, 2 nodes: saga completion p99 at half of peak (ms)", two.half.p99, "≤ 100"]);
  }
  return ratios;
}
