// The User service behind a proxy: the saga asks "may this user order?" and gets a typed answer.
import type { Context, ServiceSchema } from "moleculer";
import type { CheckUserParams, CheckUserResult } from "../contracts/participants";
import type { Config } from "../lib/config";
import {
  dependencyFault,
  guarded,
  type HttpDependencyVars,
  httpDependencyMixin,
  unavailable,
} from "../mixins/http-dependency.mixin";

const DEPENDENCY = "user-service";

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
    mixins: [httpDependencyMixin(config, DEPENDENCY, baseUrl)],
    actions: {
      check: {
        ...guarded(config),
        params: { id: { type: "string", min: 1, max: 128 } },
        async handler(ctx: Context<CheckUserParams>): Promise<CheckUserResult> {
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
            throw dependencyFault(DEPENDENCY, res.status);
          } catch (err) {
            return unavailable(err, DEPENDENCY);
          }
        },
      },
    },
  };
}
