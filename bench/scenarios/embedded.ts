// The embedded default (`--mode embedded`, and first in `all`): one service node in the bench
// process with its in-memory store and channel and the HTTP and payment simulators, driven over
// REST at fixed concurrency after a warm-up. Per run: POST /api/v1/orders latency and rate, and
// saga completion (POST → OrderConfirmed/OrderCancelled, observed on the in-memory channel, not
// by polling). Four runs, tracing off, on (10%), on, off; then the thinnest code doing the same
// work (scenarios/ceilings.ts), the limit the headline ratio divides by.
import { sharedMemoryChannel } from "../../lib/channel";
import { startEmbeddedNode } from "../../test/helpers/embedded-node";
import { token } from "../../test/helpers/jwt";
import type { Summary } from "../load";
import { fmt, type Ratio } from "../report";
import { type Bench, NONE } from "../runner";
import { type Completion, placeOrders } from "../saga";
import { thinnestCeiling } from "./ceilings";

async function embeddedService(
  bench: Bench,
  tracing: number,
  round = 1,
): Promise<{ post: Summary; saga: Summary; rssMb: number }> {
  const node = await startEmbeddedNode({
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "100000000",
    TRACING_SAMPLING_RATE: String(tracing),
  });
  node.embedded.payment?.setRules({ latencyMs: 0, failCents: [13] });
  const url = `${node.url}/api/v1/orders`;
  const completion: Completion = { placed: new Map(), done: new Map() };
  const sub = await sharedMemoryChannel().subscribe(
    { groupId: `bench-observer-${tracing}-${Date.now()}`, topics: ["orders.events"] },
    async (m) => {
      if (m.headers["event-type"] === "OrderConfirmed" || m.headers["event-type"] === "OrderCancelled")
        completion.done.set(m.key, performance.now());
    },
  );
  const auth = { authorization: `Bearer ${await token("bench-user")}` };
  const label = `service (embedded${tracing > 0 ? `, tracing ${tracing * 100}%` : ""}${round > 1 ? `, round ${round}` : ""})`;
  await bench.warmUp(placeOrders(() => url, auth, { placed: new Map(), done: new Map() }));
  const result = await bench.closed(
    label,
    placeOrders(() => url, auth, completion),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const post = bench.record(`${label}: POST /api/v1/orders`, result);
  const saga = bench.completion(`${label}: saga completion`, completion, result.durationMs / 1000);
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  await sub.stop();
  await node.stop();
  return { post, saga, rssMb };
}

/** The embedded runs, then the thinnest ceiling; the ratio lines of the embedded mode. */
export async function embeddedScenario(
  bench: Bench,
  ceilings: { raw: Summary; gatewayPost: Summary },
): Promise<Ratio[]> {
  // Off, on, on, off: a machine that speeds up or slows down during the run (it is shared)
  // weighs on both sides of the tracing ratio alike. Figures below are the means of the pairs.
  const plain = await embeddedService(bench, 0);
  const traced = await embeddedService(bench, 0.1);
  const traced2 = await embeddedService(bench, 0.1, 2);
  const plain2 = await embeddedService(bench, 0, 2);
  const mean = (a: number, b: number) => (a + b) / 2;
  const ordersPerSecond = mean(plain.saga.perSecond, plain2.saga.perSecond);
  const thin = bench.args.skipCeilings ? NONE : await thinnestCeiling(bench);
  console.log(
    `process RSS after the embedded runs: ${fmt(plain.rssMb)} MB (bench process incl. load generator)`,
  );
  return [
    ["embedded: completed orders/s ÷ same work, thinnest code", ordersPerSecond / thin.perSecond, "≥ 0.6"],
    // The earlier limits, kept as context: one moleculer-web POST is a third of an order's HTTP work.
    [
      "embedded: confirmed-or-cancelled orders/s ÷ moleculer-web POST+memory ceiling",
      ordersPerSecond / ceilings.gatewayPost.perSecond,
      "(context)",
    ],
    [
      "embedded: POST p99 ÷ ceiling p99",
      mean(plain.post.p99, plain2.post.p99) / ceilings.gatewayPost.p99,
      "≤ 2",
    ],
    [
      "embedded: throughput with tracing at 10% ÷ without",
      mean(traced.post.perSecond, traced2.post.perSecond) / mean(plain.post.perSecond, plain2.post.perSecond),
      "≥ 0.85",
    ],
    ["embedded: orders/s ÷ raw node:http", ordersPerSecond / ceilings.raw.perSecond, "(context)"],
  ];
}
