// The REST answers docs/openapi.yaml promises beyond the happy path (issue 14 item 8): 405 with
// Allow on a known path, WWW-Authenticate on 401, 415 for a body that is not declared JSON,
// a refused status value named in the answer, 422 for a total the events cannot carry, and the
// action property `auth: "required"` guarding every client-facing action.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { ORDER_LIMITS } from "../../domain/limits";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call } from "../helpers/http";
import { token } from "../helpers/jwt";

async function raw(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }> {
  const res = await request(url, { method: method as "GET", headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

describe("REST contract details (embedded node)", () => {
  let node: EmbeddedNode;
  let tok: string;

  before(async () => {
    node = await startEmbeddedNode({ RATE_LIMIT_PER_MINUTE: "100000" });
    tok = await token("contract-user");
  });
  after(async () => {
    await node?.stop();
  });

  test("an unsupported method on a known path answers 405 with Allow, before authentication", async () => {
    const cases: [string, string, string][] = [
      ["TRACE", "/health", "GET"],
      ["DELETE", "/ready", "GET"],
      ["PUT", "/api/v1/orders", "POST, GET"],
      ["DELETE", "/api/v1/orders/some-id", "GET"],
      ["GET", "/api/v1/orders/some-id/cancel", "POST"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await raw(node.url + path, method);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.allow, allow, `${method} ${path}`);
      assert.match(String(res.headers["content-type"]), /^application\/problem\+json/);
      assert.equal(res.body.status, 405);
    }
    // An unknown path stays 404.
    assert.equal((await raw(`${node.url}/api/v1/nothing`, "TRACE")).status, 404);
  });

  test("every 401 carries WWW-Authenticate: Bearer", async () => {
    const missing = await raw(`${node.url}/api/v1/orders`, "GET");
    assert.equal(missing.status, 401);
    assert.equal(missing.headers["www-authenticate"], "Bearer");
    const bad = await raw(`${node.url}/api/v1/orders/x`, "GET", { authorization: "Bearer nope" });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers["www-authenticate"], "Bearer");
  });

  test("a body without a JSON Content-Type answers 415 and places nothing", async () => {
    const body = JSON.stringify({ currency: "EUR", items: [{ productId: "p", quantity: 1, unitPrice: 1 }] });
    const none = await raw(`${node.url}/api/v1/orders`, "POST", { authorization: `Bearer ${tok}` }, body);
    assert.equal(none.status, 415, JSON.stringify(none.body));
    const text = await raw(
      `${node.url}/api/v1/orders`,
      "POST",
      { authorization: `Bearer ${tok}`, "content-type": "text/plain" },
      body,
    );
    assert.equal(text.status, 415);
    const lookalike = await raw(
      `${node.url}/api/v1/orders`,
      "POST",
      { authorization: `Bearer ${tok}`, "content-type": "application/jsonx" },
      body,
    );
    assert.equal(lookalike.status, 415);
    const list = await call<{ total: number }>(node.url, "GET", "/api/v1/orders", { token: tok });
    assert.equal(list.body.total, 0);
    // JSON with parameters and any letter case is JSON; a cancel without a body needs no type.
    const ok = await raw(
      `${node.url}/api/v1/orders`,
      "POST",
      { authorization: `Bearer ${tok}`, "content-type": "Application/JSON; charset=utf-8" },
      body,
    );
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const cancel = await raw(`${node.url}/api/v1/orders/${ok.body.id}/cancel`, "POST", {
      authorization: `Bearer ${tok}`,
    });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
  });

  test("a refused status value is named in the answer", async () => {
    const res = await call<{ errors: { field: string; message: string }[] }>(
      node.url,
      "GET",
      "/api/v1/orders?status=bogus",
      { token: tok },
    );
    assert.equal(res.status, 400);
    const error = res.body.errors.find((e) => e.field === "status");
    assert.ok(error, JSON.stringify(res.body));
    assert.match(error.message, /'bogus'/);
    assert.match(error.message, /PENDING, CONFIRMED, CANCELLED/);
  });

  test("a currency outside the list is refused and named", async () => {
    const res = await call<{ errors: { field: string; message: string }[] }>(
      node.url,
      "POST",
      "/api/v1/orders",
      {
        token: tok,
        body: { currency: "XAU", items: [{ productId: "p", quantity: 1, unitPrice: 1 }] },
      },
    );
    assert.equal(res.status, 400);
    assert.match(res.body.errors.find((e) => e.field === "currency")?.message ?? "", /'XAU'/);
  });

  test("an order whose total the events cannot carry is refused with 422 saying why", async () => {
    const items = Array.from({ length: ORDER_LIMITS.maxItems }, (_, i) => ({
      productId: `p-${i}`,
      quantity: ORDER_LIMITS.maxQuantity,
      unitPrice: ORDER_LIMITS.maxUnitPrice,
    }));
    const res = await call<{ status: number; type: string; detail: string }>(
      node.url,
      "POST",
      "/api/v1/orders",
      {
        token: tok,
        body: { currency: "EUR", items },
      },
    );
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.match(res.contentType, /^application\/problem\+json/);
    assert.equal(res.body.type, "urn:order-service:problem:total-too-large");
    assert.match(res.body.detail, /exceeds the largest amount/);
    // The largest carriable total is accepted: 10 × 1000 × 1e8 = 1e12.
    const atLimit = await call(node.url, "POST", "/api/v1/orders", {
      token: tok,
      body: {
        currency: "EUR",
        items: Array.from(
          { length: ORDER_LIMITS.maxAmount / (ORDER_LIMITS.maxQuantity * ORDER_LIMITS.maxUnitPrice) },
          (_, i) => ({
            productId: `c-${i}`,
            quantity: ORDER_LIMITS.maxQuantity,
            unitPrice: ORDER_LIMITS.maxUnitPrice,
          }),
        ),
      },
    });
    assert.equal(atLimit.status, 202, JSON.stringify(atLimit.body));
  });

  test('the client-facing actions are marked auth: "required" and refuse a call without a user', async () => {
    for (const name of ["saga.placeOrder", "saga.cancelOrder", "orders.getOwn", "orders.listOwn"]) {
      const [service, action] = name.split(".");
      const schema = (
        node.broker.getLocalService(service) as unknown as {
          schema: { actions: Record<string, { auth?: string }> };
        }
      ).schema.actions[action];
      assert.equal(schema.auth, "required", name);
      await assert.rejects(node.broker.call(name, { id: "x" }), (err: { code?: number; type?: string }) => {
        assert.equal(err.code, 401, name);
        assert.equal(err.type, "UNAUTHORIZED");
        return true;
      });
    }
  });
});
