// The Inventory service behind a proxy. Reservations are keyed by order id, so a retried
// reservation reserves once and a repeated release gives stock back once.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { OrderItem } from "../domain/events";
import type { Config } from "../lib/config";
import {
  dependencyBreaker,
  dependencyBulkhead,
  type HttpDependencyVars,
  httpDependencyMixin,
  unavailable,
} from "../mixins/http-dependency.mixin";

export interface ReserveParams {
  orderId: string;
  items: Pick<OrderItem, "productId" | "quantity">[];
}

export interface ReleaseParams {
  orderId: string;
}

export function inventoryProxyService(
  config: Config,
  baseUrl: string,
): ServiceSchema<object, Record<string, never>, HttpDependencyVars> {
  return {
    name: "inventory-proxy",
    mixins: [
      httpDependencyMixin({
        dependency: "inventory-service",
        baseUrl,
        timeoutMs: config.httpTimeoutMs,
        retry: config.retry,
        connections: config.bulkhead.concurrency,
      }),
    ],
    actions: {
      stats: {
        visibility: "public",
        handler() {
          return { retries: this.retries };
        },
      },
      reserve: {
        visibility: "public",
        bulkhead: dependencyBulkhead(config.bulkhead),
        circuitBreaker: dependencyBreaker(config.breaker),
        async handler(ctx: Context<ReserveParams>): Promise<{ reserved: true }> {
          try {
            const res = await this.http.request<{ status?: string; error?: string; productId?: string }>(
              "POST",
              "/reservations",
              {
                reservationId: ctx.params.orderId,
                items: ctx.params.items.map(({ productId, quantity }) => ({ productId, quantity })),
              },
            );
            if ((res.status === 200 || res.status === 201) && res.body?.status === "RESERVED")
              return { reserved: true };
            if (res.status === 409) {
              throw new Errors.MoleculerClientError("Insufficient stock", 409, "INSUFFICIENT_STOCK", {
                productId: res.body?.productId,
              });
            }
            throw new Errors.MoleculerError(
              `inventory-service answered ${res.status}`,
              502,
              "DEPENDENCY_FAULT",
            );
          } catch (err) {
            return unavailable(err, "inventory-service");
          }
        },
      },
      release: {
        visibility: "public",
        bulkhead: dependencyBulkhead(config.bulkhead),
        circuitBreaker: dependencyBreaker(config.breaker),
        async handler(ctx: Context<ReleaseParams>): Promise<{ released: true }> {
          try {
            const res = await this.http.request(
              "DELETE",
              `/reservations/${encodeURIComponent(ctx.params.orderId)}`,
            );
            // 404: nothing was ever reserved under this id, which is the state release wants.
            if (res.status === 200 || res.status === 204 || res.status === 404) return { released: true };
            throw new Errors.MoleculerError(
              `inventory-service answered ${res.status}`,
              502,
              "DEPENDENCY_FAULT",
            );
          } catch (err) {
            return unavailable(err, "inventory-service");
          }
        },
      },
    },
  };
}
