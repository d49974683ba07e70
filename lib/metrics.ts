// One Prometheus endpoint per node (METRICS_PORT), one prom-client registry behind it:
//  - prom-client's default Node.js metrics, under the names the community Node.js dashboards read
//    (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes,
//    nodejs_gc_duration_seconds, nodejs_active_handles …);
//  - the business metrics (lib/business-metrics.ts), prom-client metrics on the same registry;
//  - Moleculer's own metrics (moleculer_request_total, …), which live in Moleculer's registry: the
//    endpoint is served by a Moleculer reporter (a subclass of its Prometheus reporter), which
//    appends Moleculer's own exposition, written by Moleculer's code, after prom-client's.
//    Moleculer's process/os collection is off (moleculer.config.ts): prom-client's defaults
//    replace it, so no series is exported twice under two names.
import type { IncomingMessage, ServerResponse } from "node:http";
import { MetricReporters, type ServiceBroker } from "moleculer";
import { collectDefaultMetrics, Registry } from "prom-client";

// Nodes started in one process (tests) each keep their own registry.
const registries = new WeakMap<ServiceBroker, Registry>();

/** The node's prom-client registry; every series carries the node's namespace and nodeID labels. */
export function nodeRegistry(broker: ServiceBroker): Registry {
  let registry = registries.get(broker);
  if (!registry) {
    registry = new Registry();
    registry.setDefaultLabels({ namespace: broker.namespace, nodeID: broker.nodeID });
    registries.set(broker, registry);
  }
  return registry;
}

const withDefaults = new WeakSet<Registry>();

/** Starts prom-client's default collectors (event-loop monitor, GC observer) once per registry. */
export function collectNodeDefaults(registry: Registry): void {
  if (withDefaults.has(registry)) return;
  withDefaults.add(registry);
  collectDefaultMetrics({ register: registry });
}

/**
 * Serves the node's prom-client registry, then Moleculer's own metrics, on the reporter's port and
 * path (Moleculer's Prometheus reporter does the listening; only the answer changes).
 */
export class PromClientReporter extends MetricReporters.Prometheus {
  override init(registry: Parameters<InstanceType<typeof MetricReporters.Prometheus>["init"]>[0]): void {
    super.init(registry);
    collectNodeDefaults(nodeRegistry(registry.broker));
  }

  override handler(req: IncomingMessage, res: ServerResponse): void {
    if (req.url !== this.opts.path) {
      res.writeHead(404).end();
      return;
    }
    const registry = nodeRegistry(this.registry.broker);
    registry.metrics().then(
      (own) => {
        res.writeHead(200, { "Content-Type": registry.contentType });
        res.end(`${own}\n${this.generatePrometheusResponse()}`);
      },
      (err: Error) => {
        this.registry.broker.logger.error("metrics endpoint failed", err);
        res.writeHead(500).end();
      },
    );
  }
}
