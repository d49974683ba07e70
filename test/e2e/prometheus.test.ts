// A real Prometheus (Debian's) scrapes a running node's METRICS_PORT; the business series, a few of
// prom-client's default Node.js series and Moleculer's own are read back through Prometheus's HTTP
// API after orders were placed.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { PlaceOrderParams } from "../../contracts/saga";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call, eventually, freePort } from "../helpers/http";

const hasPrometheus = spawnSync("prometheus", ["--version"]).status === 0;
const skip =
  hasPrometheus || process.env.CI === "true"
    ? false
    : "prometheus is not installed (apt-get install prometheus)";

describe("Prometheus scrapes the business, Node.js and Moleculer metrics", { skip, timeout: 120_000 }, () => {
  let node: EmbeddedNode;
  let prometheus: ChildProcess;
  let promUrl: string;
  const dir = mkdtempSync(join(tmpdir(), "prom-"));

  before(async () => {
    const metricsPort = await freePort();
    const promPort = await freePort();
    node = await startEmbeddedNode({
      METRICS_PORT: String(metricsPort),
      PAYMENT_TIMEOUT_MS: "60000",
      STORE_GAUGE_INTERVAL_MS: "1000",
    });
    writeFileSync(
      join(dir, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: order-service\n    static_configs:\n      - targets: ["127.0.0.1:${metricsPort}"]\n`,
    );
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: "ignore" },
    );
    promUrl = `http://127.0.0.1:${promPort}`;
    await eventually(
      async () => ((await call(promUrl, "GET", "/-/ready")).status === 200 ? true : undefined),
      30_000,
      200,
    );
  });

  after(async () => {
    prometheus?.kill("SIGTERM");
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function value(query: string): Promise<number | undefined> {
    const res = await call<{ data: { result: { value: [number, string] }[] } }>(
      promUrl,
      "GET",
      `/api/v1/query?query=${encodeURIComponent(query)}`,
    );
    const v = res.body.data?.result?.[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  }

  test("transitions, compensations, saga duration and orders by state reach Prometheus with the right values", async () => {
    const place = (unitPrice: number) =>
      node.broker.call<{ id: string }, PlaceOrderParams>(
        "saga.placeOrder",
        { currency: "EUR", items: [{ productId: "sku-prom", quantity: 1, unitPrice }] },
        { meta: { user: { id: "prom", roles: [] } } },
      );
    await Promise.all([place(1000), place(2000), place(3013)]);
    const expect = (query: string, wanted: number) =>
      eventually(async () => ((await value(query)) === wanted ? true : undefined), 30_000, 500).catch(
        async () => {
          assert.fail(`${query}: wanted ${wanted}, Prometheus has ${await value(query)}`);
        },
      );
    await expect('sum(order_service_order_transitions_total{to="PENDING"})', 3);
    await expect('sum(order_service_order_transitions_total{to="CONFIRMED"})', 2);
    await expect('sum(order_service_compensations_total{reason="payment-failed"})', 1);
    await expect('sum(order_service_saga_duration_seconds_bucket{le="+Inf"})', 3);
    await expect("sum(order_service_saga_duration_seconds_count)", 3);
    await expect('max(order_service_orders{status="CONFIRMED"})', 2);
    await expect('max(order_service_orders{status="CANCELLED"})', 1);
    await expect("max(order_service_outbox_backlog)", 0);
    // Moleculer's own metrics come through the same endpoint: one endpoint per node.
    assert.ok(((await value("sum(moleculer_request_total)")) ?? 0) > 0);
    // prom-client's default Node.js metrics, under the names the community dashboards query, with
    // the node's label.
    const nodeID = node.broker.nodeID;
    for (const query of [
      `process_cpu_seconds_total{nodeID="${nodeID}"}`,
      `nodejs_heap_size_used_bytes{nodeID="${nodeID}"}`,
      `process_resident_memory_bytes{nodeID="${nodeID}"}`,
      `nodejs_eventloop_lag_seconds{nodeID="${nodeID}"}`,
      `nodejs_eventloop_lag_p99_seconds{nodeID="${nodeID}"}`,
      `nodejs_active_handles_total{nodeID="${nodeID}"}`,
    ]) {
      const v = await eventually(async () => value(query), 30_000, 500).catch(() => undefined);
      assert.ok(v !== undefined && Number.isFinite(v), `${query} is scraped (got ${v})`);
    }
    assert.ok(((await value(`process_cpu_seconds_total{nodeID="${nodeID}"}`)) ?? 0) > 0, "CPU time counts");
    assert.ok(
      ((await value(`nodejs_heap_size_used_bytes{nodeID="${nodeID}"}`)) ?? 0) > 0,
      "heap is measured",
    );
    // Moleculer's process metrics are off: each fact is exported once, under the standard name.
    assert.equal(await value("count(process_memory_heap_size_used)"), undefined);
  });
});
