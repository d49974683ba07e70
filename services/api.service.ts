// The only public door. Verifies the JWT (jose, algorithm pinned), rate-limits per user, caps
// the body, and publishes only the hand-written aliases below. Every error leaves as
// application/problem+json without internal detail.
import { createSecretKey, type KeyObject, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { importSPKI, type JWTPayload, jwtVerify } from "jose";
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { toProblem } from "../domain/problem";
import { FixedWindowLimiter } from "../domain/rate-limit";
import type { Config } from "../lib/config";
import { hasBody, isJson, methodGuard } from "../lib/http-guards";
import { type VerifiedClaims, VerifiedTokens } from "../lib/verified-tokens";
import type { AuthenticatedUser, RequestMeta } from "../types/moleculer";

type GatewayRequest = IncomingMessage & { $ctx?: Context<unknown, RequestMeta>; $params?: unknown };

interface ApiVars {
  /** Set on SIGTERM (index.ts): /ready answers 503 so load balancers stop sending before the listener closes. */
  draining: boolean;
  verifyKey: Awaited<ReturnType<typeof importSPKI>> | KeyObject;
  algorithm: "HS256" | "RS256";
  limiter: FixedWindowLimiter;
  verifiedTokens: VerifiedTokens;
}

interface ApiMethods {
  verifyToken(token: string): Promise<VerifiedClaims>;
  authenticate(
    ctx: Context<unknown, RequestMeta>,
    route: unknown,
    req: GatewayRequest,
  ): Promise<AuthenticatedUser>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/** Budget of each check behind /ready; a probe must answer quickly even while Kafka is down. */
const READY_CHECK_TIMEOUT_MS = 2_000;

/** The clock skew accepted on exp and nbf, by jose and by the cache of verified tokens alike. */
const TOKEN_CLOCK_TOLERANCE_SECONDS = 5;
/** Distinct live tokens remembered (a few hundred bytes each). */
const VERIFIED_TOKENS_KEPT = 10_000;

class ApiClientError extends Errors.MoleculerClientError {}

/** The public routes: one table feeds the aliases and the 405 answers with their Allow header. */
const PROBE_ALIASES = {
  "GET health": "api.health",
  "GET ready": "api.ready",
} as const;
const V1_ALIASES = {
  "POST orders": "saga.placeOrder",
  "GET orders": "orders.listOwn",
  "GET orders/:id": "orders.getOwn",
  "POST orders/:id/cancel": "saga.cancelOrder",
} as const;

/** Local event index.ts broadcasts on SIGTERM, before the drain period. */
export const DRAINING_EVENT = "node.draining";

export function apiService(
  config: Config,
): ServiceSchema<Record<string, unknown>, ApiMethods & Record<string, never>, ApiVars> {
  const verbose = config.logLevel === "debug" || config.logLevel === "trace";
  return {
    name: "api",
    mixins: [ApiGateway as unknown as Partial<ServiceSchema>],
    settings: {
      port: config.port,
      ip: process.env.BIND_ADDRESS ?? "0.0.0.0",
      // Slow clients may not hold sockets forever: the whole request within this time, and
      // (in started) the headers too; idle keep-alive sockets are closed after a while.
      requestTimeout: config.httpRequestTimeoutMs,
      httpServerTimeout: config.httpRequestTimeoutMs + 5_000,
      log4XXResponses: false,
      // moleculer-web makes a client's X-Request-Id the context's requestID, which is the trace
      // id: a client could then join or break traces. The header stays a correlation id only.
      rootCallOptions(options: { requestID?: string }) {
        options.requestID = undefined;
      },
      // Only when debug logs are on: moleculer-web builds the colored response line even when the
      // logger drops it (a few µs and strings per request).
      logRequest: verbose ? "debug" : null,
      logResponse: verbose ? "debug" : null,
      use: [methodGuard({ "/": PROBE_ALIASES, "/api/v1": V1_ALIASES })],
      routes: [
        {
          name: "probes",
          path: "/",
          mappingPolicy: "restrict",
          autoAliases: false,
          authentication: false,
          bodyParsers: false,
          aliases: { ...PROBE_ALIASES },
        },
        {
          name: "v1",
          path: "/api/v1",
          mappingPolicy: "restrict",
          autoAliases: false,
          authentication: true,
          bodyParsers: { json: { strict: true, limit: config.maxBodyBytes }, urlencoded: false },
          aliases: { ...V1_ALIASES },
          onBeforeCall(
            ctx: Context<unknown, RequestMeta>,
            _route: unknown,
            req: IncomingMessage,
            res: ServerResponse,
          ) {
            const requestId = req.headers["x-request-id"];
            ctx.meta.correlationId =
              typeof requestId === "string" && REQUEST_ID.test(requestId) ? requestId : randomUUID();
            res.setHeader("X-Request-Id", ctx.meta.correlationId);
            const key = req.headers["idempotency-key"];
            if (key !== undefined) {
              if (typeof key !== "string" || !IDEMPOTENCY_KEY.test(key)) {
                throw new ApiClientError(
                  "Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]",
                  400,
                  "INVALID_IDEMPOTENCY_KEY",
                );
              }
              ctx.meta.idempotencyKey = key;
            }
            // A body the JSON parser skipped (no or another Content-Type) would otherwise be
            // silently dropped and the request judged as if it had none.
            const contentType = req.headers["content-type"];
            if (contentType ? !isJson(contentType) : hasBody(req)) {
              throw new ApiClientError(
                "Content-Type must be application/json",
                415,
                "UNSUPPORTED_MEDIA_TYPE",
              );
            }
          },
        },
      ],
      onError(this: unknown, req: GatewayRequest, res: ServerResponse, err: Error) {
        const problem = toProblem(err as Parameters<typeof toProblem>[0]);
        if (problem.status >= 500) {
          (this as { logger: { error: (...a: unknown[]) => void } }).logger.error(
            {
              name: err.name,
              message: err.message,
              code: (err as { code?: unknown }).code,
              correlationId: req.$ctx?.meta.correlationId,
              traceId: req.$ctx?.requestID,
            },
            "request failed",
          );
        }
        const { retryAfter, ...body } = problem;
        if (retryAfter !== undefined) res.setHeader("Retry-After", String(retryAfter));
        // RFC 6750: a 401 names the scheme the client must use.
        if (problem.status === 401) res.setHeader("WWW-Authenticate", "Bearer");
        const allow = (err as { data?: { allow?: unknown } }).data?.allow;
        if (problem.status === 405 && typeof allow === "string") res.setHeader("Allow", allow);
        res.setHeader("Content-Type", "application/problem+json");
        res.writeHead(problem.status);
        res.end(JSON.stringify(body));
      },
    },

    actions: {
      health: {
        visibility: "published",
        handler() {
          return { status: "UP" };
        },
      },
      ready: {
        visibility: "published",
        async handler(ctx: Context<unknown, RequestMeta>) {
          const needed = [
            "orders",
            "order-store",
            "saga",
            "user-proxy",
            "inventory-proxy",
            "outbox-relay",
            "payment-consumer",
          ];
          const live = new Set(
            this.broker.registry
              .getServiceList({ onlyAvailable: true, skipInternal: true })
              .map((s) => s.name),
          );
          // A service this node runs must have started here: until then another node's copy
          // would answer for it while this node's part (its relay, its consumer) is not running.
          const startedHere = new Set(
            this.broker.registry.getServiceList({ onlyLocal: true, skipInternal: true }).map((s) => s.name),
          );
          const services = needed.map((name) => ({
            name,
            available: this.broker.getLocalService(name) ? startedHere.has(name) : live.has(name),
          }));
          // The checks run side by side, each with its own short budget: one after the other,
          // a channel status slowed by a Kafka outage used up the request's whole (distributed)
          // timeout and the store ping behind it was skipped, reporting store: false.
          const opts = { timeout: READY_CHECK_TIMEOUT_MS };
          const [channel, store, breakers] = await Promise.all([
            services.find((s) => s.name === "outbox-relay")?.available
              ? ctx.call("outbox-relay.status", {}, opts).catch(() => null)
              : null,
            live.has("orders")
              ? ctx.call("orders.ping", {}, opts).then(
                  () => true,
                  () => false,
                )
              : false,
            // Breakers are detail, not readiness: the saga's fallbacks keep serving while one is open.
            live.has("saga") ? ctx.call("saga.breakers", {}, opts).catch(() => []) : [],
          ]);
          const connected =
            (channel as { health?: { connected?: boolean } } | null)?.health?.connected === true;
          // null: single process, no transporter to be connected.
          const transit = (this.broker as unknown as { transit?: { connected: boolean } }).transit;
          const transporter = transit ? transit.connected : null;
          const draining = this.draining;
          const ready =
            !draining && services.every((s) => s.available) && connected && store && transporter !== false;
          if (!ready) ctx.meta.$statusCode = 503;
          return {
            status: ready ? "READY" : "NOT_READY",
            draining,
            services,
            store,
            transporter,
            channel,
            breakers,
          };
        },
      },
    },

    methods: {
      async verifyToken(token: string): Promise<VerifiedClaims> {
        let payload: JWTPayload;
        try {
          ({ payload } = await jwtVerify(token, this.verifyKey, {
            algorithms: [this.algorithm],
            issuer: config.jwt.issuer,
            audience: config.jwt.audience,
            requiredClaims: ["sub", "exp"],
            clockTolerance: TOKEN_CLOCK_TOLERANCE_SECONDS,
          }));
        } catch {
          // One answer for every failure: which check failed is nobody's business outside.
          throw new ApiClientError("Invalid or expired token", 401, "UNAUTHORIZED");
        }
        const sub = payload.sub;
        if (
          typeof sub !== "string" ||
          sub.length < 1 ||
          sub.length > 128 ||
          typeof payload.exp !== "number"
        ) {
          throw new ApiClientError("Invalid or expired token", 401, "UNAUTHORIZED");
        }
        const roles = Array.isArray(payload.roles)
          ? payload.roles.filter((r): r is string => typeof r === "string")
          : [];
        const claims = { sub, roles, exp: payload.exp };
        this.verifiedTokens.remember(token, claims);
        return claims;
      },

      async authenticate(
        ctx: Context<unknown, RequestMeta>,
        _route: unknown,
        req: GatewayRequest,
      ): Promise<AuthenticatedUser> {
        const header = req.headers.authorization;
        if (!header?.startsWith("Bearer ")) {
          throw new ApiClientError("Missing bearer token", 401, "UNAUTHORIZED");
        }
        const token = header.slice(7).trim();
        const claims = this.verifiedTokens.get(token, Date.now()) ?? (await this.verifyToken(token));
        const sub = claims.sub;
        const verdict = this.limiter.hit(sub, Date.now());
        if (!verdict.allowed) {
          throw new ApiClientError("Rate limit exceeded", 429, "RATE_LIMITED", {
            retryAfter: verdict.retryAfterSeconds,
          });
        }
        const user: AuthenticatedUser = { id: sub, roles: claims.roles };
        ctx.meta.user = user;
        return user;
      },
    },

    events: {
      [DRAINING_EVENT]: {
        handler() {
          this.draining = true;
        },
      },
    },

    async created() {
      this.draining = false;
      this.limiter = new FixedWindowLimiter(config.rateLimitPerMinute, 60_000);
      this.verifiedTokens = new VerifiedTokens(VERIFIED_TOKENS_KEPT, TOKEN_CLOCK_TOLERANCE_SECONDS);
    },

    async started() {
      const server = (this as unknown as { server?: { headersTimeout: number } }).server;
      if (server) server.headersTimeout = config.httpRequestTimeoutMs;
      if (config.jwt.publicKey) {
        this.algorithm = "RS256";
        this.verifyKey = await importSPKI(config.jwt.publicKey, "RS256");
      } else {
        this.algorithm = "HS256";
        // A key object made once: given raw bytes, jose imports a WebCrypto key on every request
        // (about a tenth of the CPU per order in the benchmark's profile).
        this.verifyKey = createSecretKey(Buffer.from(config.jwt.secret!, "utf8"));
      }
    },
  };
}
