// This node's view of the circuit breakers of its outbound dependencies. Moleculer broadcasts
// `$circuit-breaker.*` from the node whose breaker changed; each node keeps only its own view
// (breakers are per caller), logs and counts the transitions, and serves them to /ready and metrics.
import type { Context, Service, ServiceSchema } from "moleculer";
import { BREAKER_STATE_VALUE, businessMetrics } from "../lib/business-metrics";

export type BreakerState = keyof typeof BREAKER_STATE_VALUE;

export interface BreakerEntry {
  dependency: string;
  endpoint: string;
  state: BreakerState;
  since: string;
  transitions: number;
}

interface BreakerEvent {
  nodeID: string;
  service: string;
  action: string | { name: string };
  failures?: number;
  count?: number;
  rate?: number;
}

export interface BreakerViewVars {
  breakers: Map<string, BreakerEntry>;
}

/** The internal store Moleculer's circuit breaker middleware exposes on the broker. */
interface CircuitBreakerItem {
  state: string;
  failures: number;
  count: number;
  ep: { name: string; state: boolean };
  cbTimer: NodeJS.Timeout | null;
}

/** The dependency behind a proxy action, e.g. `inventory-proxy.reserve` → `inventory-service`. */
export function dependencyOf(service: string): string {
  return service.endsWith("-proxy") ? `${service.slice(0, -"-proxy".length)}-service` : service;
}

type BreakerViewSchema = Partial<ServiceSchema<object, Record<string, never>, BreakerViewVars>>;
type BreakerViewThis = Service & BreakerViewVars;

function transition(state: BreakerState) {
  return function handler(this: BreakerViewThis, ctx: Context<BreakerEvent>) {
    // Only this node's breakers: another node's breaker says nothing about our calls.
    if (ctx.nodeID && ctx.nodeID !== this.broker.nodeID) return;
    const action = typeof ctx.params.action === "string" ? ctx.params.action : ctx.params.action?.name;
    const dependency = dependencyOf(ctx.params.service);
    const endpoint = `${ctx.params.nodeID}:${action}`;
    const previous = this.breakers.get(endpoint);
    this.breakers.set(endpoint, {
      dependency,
      endpoint,
      state,
      since: new Date().toISOString(),
      transitions: (previous?.transitions ?? 0) + 1,
    });
    const level = state === "open" ? "warn" : "info";
    this.logger[level](
      {
        dependency,
        endpoint,
        failures: ctx.params.failures,
        rate: ctx.params.rate,
      },
      `circuit breaker ${state}`,
    );
    businessMetrics(this.broker).breakerTransitions.inc({ dependency, state });
    businessMetrics(this.broker).breakerState.set({ dependency }, worstState(this.breakers, dependency));
  };
}

function worstState(breakers: Map<string, BreakerEntry>, dependency: string): number {
  let worst = 0;
  for (const b of breakers.values()) {
    if (b.dependency === dependency) worst = Math.max(worst, BREAKER_STATE_VALUE[b.state]);
  }
  return worst;
}

export function breakerViewMixin(): Partial<ServiceSchema> {
  const schema: BreakerViewSchema = {
    events: {
      "$circuit-breaker.opened": transition("open"),
      "$circuit-breaker.half-opened": transition("half-open"),
      "$circuit-breaker.closed": transition("closed"),
    },
    actions: {
      breakers: {
        visibility: "public",
        handler() {
          return [...this.breakers.values()];
        },
      },
      resetBreakers: {
        visibility: "public",
        params: { dependency: { type: "string", optional: true } },
        handler(ctx: Context<{ dependency?: string }>) {
          const store = (this.broker as unknown as { CircuitBreakerStore?: Map<string, CircuitBreakerItem> })
            .CircuitBreakerStore;
          const reset: string[] = [];
          for (const [endpoint, entry] of this.breakers) {
            if (ctx.params.dependency && entry.dependency !== ctx.params.dependency) continue;
            const item = store?.get(endpoint);
            if (item) {
              // Moleculer has no public close(): put the endpoint back the way circuitClose() leaves it.
              if (item.cbTimer) clearTimeout(item.cbTimer);
              item.cbTimer = null;
              item.state = "close";
              item.failures = 0;
              item.count = 0;
              item.ep.state = true;
            }
            this.breakers.set(endpoint, { ...entry, state: "closed", since: new Date().toISOString() });
            reset.push(endpoint);
          }
          return { reset };
        },
      },
    },
    created() {
      this.breakers = new Map();
    },
  };
  // Typed against its own vars inside; the host service sees a plain mixin.
  return schema as Partial<ServiceSchema>;
}
