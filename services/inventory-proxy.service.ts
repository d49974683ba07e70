// The Inventory service behind a proxy. Reservations are keyed by order id, so a retried
// reservation reserves once and a repeated release gives stock back once.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { ReleaseParams, ReleaseResult, ReserveParams, ReserveResult } from "../contracts/participants";
import type { Config } from "../lib/config";
import {
  dependencyFault,
  guarded,
  type HttpDependencyVars,
  httpDependencyMixin,
  unavailable,
} from "../mixins/http-dependency.mixin";

const DEPENDENCY = "inventory-service";

export function inventoryProxyService(
  config: Config,
  baseUrl: string,
): ServiceSchema<object, Record<string, never>, HttpDependencyVars> {
  return {
    name: "inventory-proxy",
    mixins: [httpDependencyMixin(config, DEPENDENCY, baseUrl)],
    actions: {
      reserve: {
        ...guarded(config),
        async handler(ctx: Context<ReserveParams>): Promise<ReserveResult> {
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
            throw dependencyFault(DEPENDENCY, res.status);
          } catch (err) {
            return unavailable(err, DEPENDENCY);
          }
        },
      },
      release: {
        ...guarded(config),
        async handler(ctx: Context<ReleaseParams>): Promise<ReleaseResult> {
          try {
            const res = await this.http.request(
              "DELETE",
              `/reservations/${encodeURIComponent(ctx.params.orderId)}`,
            );
            // 404: nothing was ever reserved under this id, which is the state release wants.
            if (res.status === 200 || res.status === 204 || res.status === 404) return { released: true };
            throw dependencyFault(DEPENDENCY, res.status);
          } catch (err) {
            return unavailable(err, DEPENDENCY);
          }
        },
      },
    },
  };
}
