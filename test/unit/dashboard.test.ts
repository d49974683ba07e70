// The provisioned Grafana dashboard is valid JSON and every query names a metric the service
// exports (lib/business-metrics.ts, and prom-client's default Node.js metrics as a registry with
// them names them), so a renamed metric cannot leave a dead panel behind.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { collectDefaultMetrics, Registry } from "prom-client";
import { METRIC } from "../../lib/business-metrics";

interface Panel {
  title: string;
  targets: { expr: string }[];
}

test("the dashboard's queries use only exported metrics and cover the required views", async () => {
  const dashboard = JSON.parse(
    readFileSync(
      join(__dirname, "..", "..", "deploy", "grafana", "dashboards", "order-service.json"),
      "utf8",
    ),
  ) as { uid: string; panels: Panel[] };
  assert.equal(dashboard.uid, "order-service");
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const defaults = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  registry.clear();
  const exported = new Set<string>([...Object.values(METRIC), ...defaults]);
  const used = new Set<string>();
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, `${panel.title} has a query`);
    for (const { expr } of panel.targets) {
      for (const name of expr.match(/\b(order_service|process|nodejs)_[a-z0-9_]+/g) ?? []) {
        const base = exported.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
        assert.ok(exported.has(base), `${panel.title}: ${name} is exported`);
        used.add(base);
      }
    }
  }
  for (const needed of [
    METRIC.transitions,
    METRIC.sagaDuration,
    METRIC.breakerState,
    METRIC.dlqMessages,
    METRIC.consumerLag,
    METRIC.outboxBacklog,
    "process_cpu_seconds_total",
    "nodejs_eventloop_lag_p99_seconds",
    "nodejs_heap_size_used_bytes",
    "nodejs_gc_duration_seconds",
  ]) {
    assert.ok(used.has(needed), `a panel shows ${needed}`);
  }
});
