// The User service behind a proxy: the saga asks "may this user order?" and gets a typed answer.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { UserCheck } from "../domain/resilience";
import type { Config } from "../lib/config";
import {
  dependencyBreaker,
  dependencyBulkhead,
  type HttpDependencyVars,
  httpDependencyMixin,
  unavailable,
} from "../mixins/http-dependency.mixin";

export interface CheckUserParams {
  id: string;
}

interface UserBody {
  id: string;
  status: "active" | "blocked";
}

export function userProxyService(
  config: Config,
  baseUrl: string,
): ServiceSchema<object, Record<string, never>, HttpDependencyVars> {
  return {
    name: "user-proxy",
    mixins: [
      httpDependencyMixin({
        dependency: "user-service",
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
      check: {
        visibility: "public",
        bulkhead: dependencyBulkhead(config.bulkhead),
        circuitBreaker: dependencyBreaker(config.breaker),
        params: { id: { type: "string", min: 1, max: 128 } },
        async handler(ctx: Context<CheckUserParams>): Promise<UserCheck> {
          try {
            const res = await this.http.request<UserBody>(
              "GET",
              `/users/${encodeURIComponent(ctx.params.id)}`,
            );
            if (res.status === 200) {
              return res.body.status === "active"
                ? { kind: "verified" }
                : { kind: "refused", why: "blocked" };
            }
            if (res.status === 404) return { kind: "refused", why: "unknown" };
            // Any other answer is a dependency fault, not a verdict on the user.
            throw new Errors.MoleculerError(`user-service answered ${res.status}`, 502, "DEPENDENCY_FAULT");
          } catch (err) {
            return unavailable(err, "user-service");
          }
        },
      },
    },
  };
}
