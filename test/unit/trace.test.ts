import assert from "node:assert/strict";
import { test } from "node:test";
import { actionSpanTags, parentSpanOf, parseTraceParent, traceParentOf } from "../../lib/trace";

test("a Moleculer context becomes a traceparent and comes back as the same parent span", () => {
  const ctx = {
    requestID: "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
    id: "00f067aa-0ba9-02b7-1111-222233334444",
    tracing: true,
  };
  const header = traceParentOf(ctx)!;
  assert.equal(header, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const parent = parentSpanOf(header)!;
  assert.equal(parent.traceID, ctx.requestID);
  assert.equal(parent.id.replace(/-/g, "").slice(0, 16), "00f067aa0ba902b7");
  assert.equal(parent.sampled, true);
});

test("malformed or all-zero traceparents are ignored", () => {
  for (const bad of [
    undefined,
    "",
    "00-xyz-abc-01",
    `00-${"0".repeat(32)}-${"1".repeat(16)}-01`,
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
  ]) {
    assert.equal(parseTraceParent(bad), undefined, String(bad));
  }
  assert.equal(traceParentOf({ requestID: null, id: "x" }), undefined);
  assert.equal(parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled, false);
});

test("an action's span keeps the order's id, never its params", () => {
  const order = { _id: "order-7", userId: "alice", items: [{ productId: "sku-1" }] };
  assert.deepEqual(actionSpanTags({ id: "order-7" }), { orderId: "order-7" });
  assert.deepEqual(actionSpanTags({ order }), { orderId: "order-7" });
  assert.deepEqual(actionSpanTags({ current: order, change: {} }), { orderId: "order-7" });
  assert.deepEqual(actionSpanTags({ event: { orderId: "order-7", type: "PaymentSucceeded" } }), {
    orderId: "order-7",
  });
  assert.deepEqual(actionSpanTags({ items: [{ productId: "sku-1" }], currency: "EUR" }), {});
  assert.deepEqual(actionSpanTags(null), {});
  assert.deepEqual(actionSpanTags({ id: 42 }), {}, "only string ids");
});
