// Gives a proxy service one pooled HTTP client for its dependency, closed with the service, its
// `stats` action, and the guards every call to the dependency wears (bulkhead, breaker).
import type { ActionSchema, ServiceBroker, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { AttemptOutcome } from "../domain/resilience";
import { businessMetrics } from "../lib/business-metrics";
import type { Config } from "../lib/config";
import { DependencyUnavailableError, HttpClient } from "../lib/http-client";

export interface HttpDependencyVars {
  http: HttpClient;
  retries: number;
}

/** Unavailability becomes a 503 MoleculerError so the circuit breaker counts it. */
export function unavailable(err: unknown, dependency: string): never {
  if (err instanceof DependencyUnavailableError) {
    throw new Errors.MoleculerRetryableError(err.message, 503, "DEPENDENCY_UNAVAILABLE", {
      dependency,
      attempts: err.attempts,
    });
  }
  throw err;
}

/** An answer the dependency should not give (a 5xx, an unknown status): a fault, not a verdict. */
export function dependencyFault(dependency: string, status: number): Errors.MoleculerError {
  return new Errors.MoleculerError(`${dependency} answered ${status}`, 502, "DEPENDENCY_FAULT");
}

/**
 * The guards of an action that calls the dependency. Bulkhead: at most `concurrency` calls in
 * flight, the rest queue (bounded). Breaker: Moleculer honours threshold, minimum requests and
 * half-open time per action; the window is one broker-wide timer (CB_WINDOW_SECONDS).
 */
export function guarded(config: Config): Pick<ActionSchema, "visibility" | "bulkhead" | "circuitBreaker"> {
  const { bulkhead, breaker } = config;
  return {
    visibility: "public",
    bulkhead: { enabled: true, concurrency: bulkhead.concurrency, maxQueueSize: bulkhead.maxQueueSize },
    circuitBreaker: {
      threshold: breaker.threshold,
      minRequestCount: breaker.minRequestCount,
      halfOpenTime: breaker.halfOpenMs,
    },
  };
}

export function httpDependencyMixin(
  config: Config,
  dependency: string,
  baseUrl: string,
): Partial<ServiceSchema> {
  const options = {
    baseUrl,
    timeoutMs: config.httpTimeoutMs,
    retry: config.retry,
    connections: config.bulkhead.concurrency,
  };
  return {
    actions: {
      /** Retries so far, for operators (`call <proxy>.stats` in the REPL). */
      stats: {
        visibility: "public",
        handler() {
          return { retries: (this as unknown as HttpDependencyVars).retries };
        },
      },
    },
    created() {
      const vars = this as unknown as HttpDependencyVars & {
        broker: ServiceBroker;
        logger: { warn: (...a: unknown[]) => void };
      };
      vars.retries = 0;
      vars.http = new HttpClient({
        name: dependency,
        ...options,
        onRetry: (attempt: number, outcome: AttemptOutcome) => {
          vars.retries++;
          businessMetrics(vars.broker).retries.inc({ dependency: dependency });
          vars.logger.warn({ attempt, outcome }, `retrying ${dependency} call`);
        },
      });
    },
    async stopped() {
      await (this as unknown as HttpDependencyVars).http.close();
    },
  };
}
