// One order, one trace: a real Jaeger (built from the Go module proxy by scripts/infra.sh)
// receives the spans, and the trace found through its query API holds the REST call, the saga,
// the user and inventory calls, the store, the payment simulator's charge (joined through the
// OrderCreated message's header) and the consumption of its answer and handling by the saga.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jaegerPaymentTracer } from "../../simulators/payment/tracing";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { infraEnv } from "../helpers/env";
import { call, eventually } from "../helpers/http";
import { token } from "../helpers/jwt";
import { startWorld, type World } from "../helpers/world";

const endpoint = process.env.JAEGER_ENDPOINT;
const queryUrl = process.env.JAEGER_QUERY_URL;
const infra = infraEnv();
const skip =
  endpoint && queryUrl
    ? false
    : process.env.CI === "true"
      ? false
      : "needs JAEGER_ENDPOINT and JAEGER_QUERY_URL (scripts/infra.sh up)";

interface JaegerTrace {
  traceID: string;
  spans: {
    spanID: string;
    operationName: string;
    processID: string;
    references: { spanID: string }[];
    tags?: { key: string; value: unknown }[];
  }[];
  processes: Record<string, { serviceName: string }>;
}

describe("a trace follows an order through the event channel", { skip, timeout: 120_000 }, () => {
  let node: EmbeddedNode;

  before(async () => {
    assert.ok(endpoint && queryUrl, "CI=true and Jaeger is not configured");
    node = await startEmbeddedNode({ TRACING_SAMPLING_RATE: "1", JAEGER_ENDPOINT: endpoint });
  });
  after(async () => {
    await node?.stop();
  });

  test("REST → saga → user/inventory → outbox → payment → consume → saga in one trace", async () => {
    const placed = await call<{ id: string }>(node.url, "POST", "/api/v1/orders", {
      token: await token("tracer"),
      body: { currency: "EUR", items: [{ productId: "sku-trace", quantity: 1, unitPrice: 4321 }] },
    });
    assert.equal(placed.status, 202);
    await eventually(async () => {
      const o = await call<{ status: string }>(node.url, "GET", `/api/v1/orders/${placed.body.id}`, {
        token: await token("tracer"),
      });
      return o.body.status === "CONFIRMED" ? true : undefined;
    });

    const trace = await eventually(
      async () => {
        const res = await call<{ data: JaegerTrace[] }>(
          queryUrl!,
          "GET",
          // This order's trace, not any earlier one in the same Jaeger: spans carry the order's id.
          `/api/traces?service=payment-consumer&limit=20&lookback=1h&tags=${encodeURIComponent(
            JSON.stringify({ orderId: placed.body.id }),
          )}`,
        );
        return res.body.data?.find((t) => {
          const ops = t.spans.map((s) => s.operationName);
          return (
            ops.some((o) => o.includes("saga.placeOrder")) &&
            ops.some((o) => o.includes("saga.applyPayment")) &&
            ops.some((o) => o.startsWith("consume ")) &&
            ops.includes("payment.charge")
          );
        });
      },
      45_000,
      1_000,
    );
    const services = new Set(Object.values(trace.processes).map((p) => p.serviceName));
    for (const s of [
      "api",
      "saga",
      "user-proxy",
      "inventory-proxy",
      "order-store",
      "payment-consumer",
      "payment-simulator",
    ]) {
      assert.ok(services.has(s), `${s} has a span in the trace (has: ${[...services].join(", ")})`);
    }
    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    const consume = trace.spans.find((s) => s.operationName.startsWith("consume "))!;
    const apply = trace.spans.find((s) => s.operationName.includes("saga.applyPayment"))!;
    // Spans name the order, and carry no params (no order documents or request bodies).
    const tagsOf = (span: typeof apply) => new Map((span.tags ?? []).map((t) => [t.key, t.value]));
    assert.equal(tagsOf(apply).get("orderId"), placed.body.id);
    // (The gateway's own request span keeps the URL and method moleculer-web puts there.)
    for (const span of trace.spans.filter((s) => s.operationName.startsWith("action ")))
      for (const key of tagsOf(span).keys())
        assert.ok(!key.startsWith("params"), `${span.operationName}: ${key}`);
    assert.equal(
      apply.references[0]?.spanID,
      consume.spanID,
      "the saga's handling is a child of the consumption",
    );
    const consumeParent = byId.get(consume.references[0]?.spanID ?? "");
    assert.equal(
      consumeParent?.operationName,
      "payment.charge",
      "the consumption's parent is the payment's span",
    );
    const chargeParent = byId.get(consumeParent?.references[0]?.spanID ?? "");
    assert.match(
      chargeParent?.operationName ?? "",
      /saga\.placeOrder/,
      "the payment's parent is the saga's span (via OrderCreated)",
    );
  });
});

describe("the same trace across real Kafka and two service nodes", {
  skip: skip || ("skip" in infra ? infra.skip : false),
  timeout: 180_000,
}, () => {
  let world: World;

  before(async () => {
    if ("skip" in infra) return;
    world = await startWorld(
      infra,
      { failureRate: 0, failCents: [13], latencyMs: 0 },
      { extraEnv: { TRACING_SAMPLING_RATE: "1", JAEGER_ENDPOINT: endpoint! } },
      jaegerPaymentTracer(endpoint!),
    );
    await Promise.all([world.cluster.startNode("a"), world.cluster.startNode("b")]);
  });
  after(async () => {
    await world?.stop();
  });

  test("the payment simulator's span and the consuming node's spans join the placing node's trace", async () => {
    const placed = await call<{ id: string }>(world.cluster.nodes.get("a")!.url, "POST", "/api/v1/orders", {
      token: await token("tracer"),
      body: { currency: "EUR", items: [{ productId: "sku-trace", quantity: 1, unitPrice: 5555 }] },
    });
    assert.equal(placed.status, 202);
    const tags = encodeURIComponent(JSON.stringify({ orderId: placed.body.id }));
    const trace = await eventually(
      async () => {
        const res = await call<{ data: JaegerTrace[] }>(
          queryUrl!,
          "GET",
          `/api/traces?service=payment-consumer&tags=${tags}&limit=10&lookback=1h`,
        );
        return res.body.data?.find((t) => {
          const ops = t.spans.map((s) => s.operationName);
          return (
            ops.includes("payment.charge") &&
            ops.some((o) => o.includes("saga.applyPayment")) &&
            ops.some((o) => o.includes("saga.placeOrder"))
          );
        });
      },
      60_000,
      1_000,
    );
    const services = new Set(Object.values(trace.processes).map((p) => p.serviceName));
    for (const s of ["api", "saga", "order-store", "payment-consumer", "payment-simulator"])
      assert.ok(services.has(s), `${s} in the trace`);
  });
});
