// Broker calls per order: places orders on one embedded node (all its services in one process),
// waits until every one is settled and its outbox empty, and divides Moleculer's own request
// counter (moleculer.request.total, by action) by the number of orders. Each of these calls is
// a hop through the broker's middlewares, and a network hop whenever caller and callee are on
// different nodes.   npx tsx bench/hops.ts [orders]
import { startEmbeddedNode } from "../test/helpers/embedded-node";
import { call, eventually, freePort } from "../test/helpers/http";
import { token } from "../test/helpers/jwt";

async function main(): Promise<void> {
  const orders = Number(process.argv[2] ?? 200);
  const node = await startEmbeddedNode({ METRICS_PORT: String(await freePort()) });
  try {
    const tok = await token("hops");
    const ids: string[] = [];
    for (let i = 0; i < orders; i++) {
      const res = await call<{ id: string }>(node.url, "POST", "/api/v1/orders", {
        token: tok,
        body: {
          currency: "EUR",
          items: [{ productId: `sku-${i % 9}`, quantity: 1, unitPrice: 1000 + i * 2 }],
        },
      });
      ids.push(res.body.id);
    }
    await eventually(
      async () => {
        for (const id of ids) {
          const res = await call<{ status: string }>(node.url, "GET", `/api/v1/orders/${id}`, { token: tok });
          if (res.body.status === "PENDING") return undefined;
        }
        return true;
      },
      60_000,
      200,
    );
    // Publication marks are written up to a second after the last write.
    await new Promise((r) => setTimeout(r, 2_500));
    const metric = node.broker.metrics.getMetric("moleculer.request.total") as unknown as {
      snapshot(): { labels: { action: string }; value: number }[];
    };
    const perAction = metric
      .snapshot()
      .filter((s) => !/^(api\.rest|\$node)/.test(s.labels.action))
      .map((s) => ({ action: s.labels.action, perOrder: s.value / orders }))
      .filter((s) => s.perOrder >= 0.01)
      .sort((a, b) => b.perOrder - a.perOrder);
    // The GETs of this script's own polling are not part of an order's saga.
    const saga = perAction.filter((s) => s.action !== "orders.getOwn");
    for (const s of saga) console.log(`${s.perOrder.toFixed(2).padStart(6)}  ${s.action}`);
    console.log(
      `${saga
        .reduce((n, s) => n + s.perOrder, 0)
        .toFixed(2)
        .padStart(6)}  broker calls per order`,
    );
  } finally {
    await node.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
